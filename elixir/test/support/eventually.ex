defmodule Chunker.Test.Eventually do
  @moduledoc false
  # Waits for a condition that no message announces (another process's state, an OS
  # process exiting), re-checking every few milliseconds until a deadline.

  @recheck_ms 5

  @doc "True as soon as `check` returns truthy, false once `timeout_ms` has passed."
  def eventually(check, timeout_ms \\ 2_000) do
    until(check, System.monotonic_time(:millisecond) + timeout_ms)
  end

  defp until(check, deadline) do
    cond do
      check.() ->
        true

      System.monotonic_time(:millisecond) > deadline ->
        false

      true ->
        receive do
        after
          @recheck_ms -> until(check, deadline)
        end
    end
  end
end
