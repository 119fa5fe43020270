defmodule Chunker.MixProject do
  use Mix.Project

  def project do
    [
      app: :chunker,
      version: "0.1.0",
      elixir: "~> 1.14",
      elixirc_paths: elixirc_paths(Mix.env()),
      start_permanent: Mix.env() == :prod,
      deps: []
    ]
  end

  def application do
    [
      extra_applications: [:logger],
      mod: {Chunker.Application, []},
      # Every key may also be given per pool (Chunker.PortPool options); the environment
      # variables CHUNKER_NODE, CHUNKER_PORT_SCRIPT and CHUNKER_SPOOL_BYTES override
      # node_path, port_script and spool_bytes.
      env: [
        pool_size: nil,
        node_path: nil,
        port_script: nil,
        max_frame_bytes: nil,
        spool_bytes: nil
      ]
    ]
  end

  defp elixirc_paths(:test), do: ["lib", "test/support"]
  defp elixirc_paths(_env), do: ["lib"]
end
