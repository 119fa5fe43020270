defmodule Chunker.Options do
  @moduledoc false
  # Validates the keyword options of the Chunker facade and turns them into wire arguments.
  # The port validates again (it is the authority, e.g. for min <= avg <= max when a preset
  # fills some sizes); checking here gives errors that name the Elixir option without a
  # round trip, and keeps malformed values off the wire.

  alias Chunker.Error

  # Bounds of the Rust fastcdc crate (v2020), as enforced by the port program.
  @min_size_bytes 64..1_048_576
  @avg_size_bytes 256..4_194_304
  @max_size_bytes 1_024..16_777_216
  @normalization_levels 0..3
  @seed_max 0xFFFF_FFFF_FFFF_FFFF
  @presets [:default, :nif, :small]
  @hashes [:sha256, :blake3, :none]

  @default_timeout_ms 30_000

  @chunking_keys [:preset, :min_size, :avg_size, :max_size, :normalization, :seed, :hash]
  @known_keys @chunking_keys ++ [:budget_bytes, :budget_ms, :timeout, :pool]

  @enforce_keys [:chunking, :budget, :timeout, :pool]
  defstruct [:chunking, :budget, :timeout, :pool]

  @type t :: %__MODULE__{
          chunking: %{optional(String.t()) => term},
          budget: %{optional(String.t()) => non_neg_integer} | nil,
          timeout: timeout,
          pool: atom
        }

  @doc "Checks `opts`, which may hold only `allowed` keys (a subset of the known ones)."
  @spec validate(term, [atom]) :: {:ok, t} | {:error, Error.t()}
  def validate(opts, allowed \\ @known_keys) do
    with :ok <- check_keyword(opts, allowed),
         :ok <- check_values(opts),
         :ok <- check_size_order(opts) do
      {:ok, build(opts)}
    end
  end

  @doc "The error every bad argument gets: it names the argument, what was expected and what came."
  @spec invalid(String.t(), String.t(), term) :: {:error, Error.t()}
  def invalid(name, expected, received) do
    received = inspect(received, limit: 8, printable_limit: 60)

    {:error,
     Error.new(:invalid_argument, "Expected #{expected} for #{name} but received #{received}")}
  end

  defp check_keyword(opts, allowed) do
    cond do
      not Keyword.keyword?(opts) ->
        invalid("options", "a keyword list", opts)

      (unknown = Enum.find(Keyword.keys(opts), &(&1 not in allowed))) != nil ->
        invalid("options", "only #{Enum.map_join(allowed, ", ", &inspect/1)}", unknown)

      (repeated = Keyword.keys(opts) -- Enum.uniq(Keyword.keys(opts))) != [] ->
        invalid("options", "each option at most once", hd(repeated))

      true ->
        :ok
    end
  end

  @doc "The first error `check.(key, value)` returns for the options in `opts`, else `:ok`."
  @spec check_each(keyword, (atom, term -> :ok | {:error, Error.t()})) ::
          :ok | {:error, Error.t()}
  def check_each(opts, check) do
    Enum.reduce_while(opts, :ok, fn {key, value}, :ok ->
      case check.(key, value) do
        :ok -> {:cont, :ok}
        error -> {:halt, error}
      end
    end)
  end

  defp check_values(opts), do: check_each(opts, &check/2)

  defp check(:preset, value), do: one_of("preset", @presets, value)
  defp check(:min_size, value), do: in_range("min_size", @min_size_bytes, value)
  defp check(:avg_size, value), do: in_range("avg_size", @avg_size_bytes, value)
  defp check(:max_size, value), do: in_range("max_size", @max_size_bytes, value)
  defp check(:normalization, value), do: in_range("normalization", @normalization_levels, value)
  defp check(:seed, value), do: in_range("seed", 0..@seed_max, value)
  defp check(:hash, value), do: one_of("hash", @hashes, value)
  defp check(:budget_bytes, value), do: positive("budget_bytes", value)
  defp check(:budget_ms, value), do: positive("budget_ms", value)
  defp check(:timeout, :infinity), do: :ok
  defp check(:timeout, value), do: positive("timeout", value)
  defp check(:pool, value) when is_atom(value) and value not in [nil, true, false], do: :ok
  defp check(:pool, value), do: invalid("pool", "the name of a Chunker.PortPool", value)

  # Only when all three are given: otherwise the preset fills the rest and the port checks.
  defp check_size_order(opts) do
    with {:ok, min} <- Keyword.fetch(opts, :min_size),
         {:ok, avg} <- Keyword.fetch(opts, :avg_size),
         {:ok, max} <- Keyword.fetch(opts, :max_size),
         false <- min <= avg and avg <= max do
      invalid("sizes", "min_size <= avg_size <= max_size", %{
        min_size: min,
        avg_size: avg,
        max_size: max
      })
    else
      _ -> :ok
    end
  end

  defp one_of(name, allowed, value) do
    if value in allowed,
      do: :ok,
      else: invalid(name, "one of " <> Enum.map_join(allowed, ", ", &inspect/1), value)
  end

  defp in_range(_name, first..last, value)
       when is_integer(value) and value >= first and value <= last,
       do: :ok

  defp in_range(name, first..last, value),
    do: invalid(name, "an integer between #{first} and #{last}", value)

  defp positive(_name, value) when is_integer(value) and value > 0, do: :ok
  defp positive(name, value), do: invalid(name, "a positive integer", value)

  defp build(opts) do
    chunking =
      for {key, value} <- opts, key in @chunking_keys, into: %{} do
        {Atom.to_string(key), wire_value(value)}
      end

    budget =
      for {key, wire_key} <- [budget_bytes: "bytes", budget_ms: "ms"],
          Keyword.has_key?(opts, key),
          into: %{},
          do: {wire_key, Keyword.fetch!(opts, key)}

    %__MODULE__{
      chunking: chunking,
      budget: if(budget == %{}, do: nil, else: budget),
      timeout: Keyword.get(opts, :timeout, @default_timeout_ms),
      pool: Keyword.get(opts, :pool, Chunker.PortPool)
    }
  end

  defp wire_value(atom) when is_atom(atom), do: Atom.to_string(atom)
  defp wire_value(integer) when is_integer(integer), do: integer
end
