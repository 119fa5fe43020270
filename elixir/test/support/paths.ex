defmodule Chunker.Test.Paths do
  @moduledoc false
  # Files the tests read from outside the Mix project.

  @repository_root Path.expand("../../..", __DIR__)

  def repository_root, do: @repository_root

  def protocol_vectors_dir, do: Path.join(@repository_root, "protocol/vectors")

  @doc "The shared vectors (`<repo>/../shared`, or CHUNKER_SHARED_DIR)."
  def shared_dir do
    case System.get_env("CHUNKER_SHARED_DIR") do
      dir when dir in [nil, ""] -> Path.expand("../shared", @repository_root)
      dir -> Path.expand(dir)
    end
  end

  def fastcdc_dir, do: Path.join(shared_dir(), "vectors/fastcdc")

  def port_script, do: Path.join(@repository_root, "dist/port/main.js")

  def cli_script, do: Path.join(@repository_root, "dist/port/cli.js")

  def node, do: System.get_env("CHUNKER_NODE") || System.find_executable("node")
end
