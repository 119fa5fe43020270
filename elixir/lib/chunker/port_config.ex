defmodule Chunker.PortConfig do
  @moduledoc false
  # Where the port program lives and how it is started. For each setting the first that is
  # set wins: an option given to the pool or port, the environment variable, the
  # application environment, the default.

  # The Mix project sits in `elixir/` at the repository root; `npm run build:ts` writes the
  # port program to `<repo>/dist/port/main.js`.
  @repository_root Path.expand("../../..", __DIR__)
  @default_script Path.join(@repository_root, "dist/port/main.js")

  # The port program's own default (protocol/spec.md, section 1).
  @default_max_frame_bytes 67_108_864

  # Shared memory per port for feeds that skip the pipe (Chunker.Spool); 0 turns it off.
  @default_spool_bytes 32 * 1024 * 1024

  # The program's environment variable for its hashing helper threads (README, Speed).
  @hash_threads_env "CHUNKER_HASH_THREADS"

  @enforce_keys [:node, :script, :max_frame_bytes, :spool_bytes, :args]
  defstruct [:node, :script, :max_frame_bytes, :spool_bytes, :args, env: []]

  @type t :: %__MODULE__{
          node: String.t() | nil,
          script: String.t(),
          max_frame_bytes: pos_integer,
          spool_bytes: non_neg_integer,
          args: [String.t()],
          # extra environment of the program, as Port.open/2's :env wants it
          env: [{charlist, charlist}]
        }

  @spec resolve(keyword) :: t
  def resolve(opts) do
    script =
      first_set([
        opts[:port_script],
        System.get_env("CHUNKER_PORT_SCRIPT"),
        Application.get_env(:chunker, :port_script),
        @default_script
      ])

    node =
      first_set([
        opts[:node_path],
        System.get_env("CHUNKER_NODE"),
        Application.get_env(:chunker, :node_path),
        System.find_executable("node")
      ])

    frame_limit =
      first_set([opts[:max_frame_bytes], Application.get_env(:chunker, :max_frame_bytes)])

    frame_args =
      if frame_limit, do: ["--max-frame-bytes", Integer.to_string(frame_limit)], else: []

    spool_bytes =
      first_set([
        opts[:spool_bytes],
        env_integer("CHUNKER_SPOOL_BYTES"),
        Application.get_env(:chunker, :spool_bytes),
        @default_spool_bytes
      ])

    unless is_integer(spool_bytes) and spool_bytes >= 0,
      do:
        raise(
          ArgumentError,
          "Chunker spool_bytes must be a non-negative integer, got: #{inspect(spool_bytes)}"
        )

    %__MODULE__{
      env: hash_threads_env(opts),
      node: node,
      script: Path.expand(script),
      max_frame_bytes: frame_limit || @default_max_frame_bytes,
      spool_bytes: spool_bytes,
      args: [Path.expand(script) | frame_args]
    }
  end

  # Helper threads per program: the program reads CHUNKER_HASH_THREADS itself (default one
  # per core but its own), so a value set in the environment is inherited and wins; only a
  # pool option or the application setting needs passing on.
  defp hash_threads_env(opts) do
    wanted = first_set([opts[:hash_threads], Application.get_env(:chunker, :hash_threads)])

    cond do
      System.get_env(@hash_threads_env) not in [nil, ""] ->
        []

      is_nil(wanted) ->
        []

      is_integer(wanted) and wanted >= 0 ->
        [{String.to_charlist(@hash_threads_env), Integer.to_charlist(wanted)}]

      true ->
        raise ArgumentError,
              "Chunker hash_threads must be a non-negative integer, got: #{inspect(wanted)}"
    end
  end

  # An integer environment variable (unset or empty: nil); anything else comes back as
  # "NAME=value", which the caller refuses, naming the variable.
  defp env_integer(name) do
    case System.get_env(name) do
      text when text in [nil, ""] ->
        nil

      text ->
        case Integer.parse(text) do
          {value, ""} -> value
          _not_an_integer -> "#{name}=#{text}"
        end
    end
  end

  @doc "Says why the port program cannot be started, if it cannot."
  @spec check(t) :: :ok | {:error, String.t()}
  def check(%__MODULE__{node: nil}),
    do: {:error, "node was not found on PATH; install Node.js 20 or set CHUNKER_NODE"}

  def check(%__MODULE__{node: node, script: script}) do
    cond do
      not File.regular?(node) ->
        {:error, "node executable #{node} does not exist (set CHUNKER_NODE)"}

      not File.regular?(script) ->
        {:error,
         "the port program #{script} does not exist: run `npm run build:ts` in the " <>
           "repository root, or set CHUNKER_PORT_SCRIPT"}

      true ->
        :ok
    end
  end

  defp first_set(candidates), do: Enum.find(candidates, &(&1 not in [nil, ""]))
end
