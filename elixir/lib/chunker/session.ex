defmodule Chunker.Session do
  @moduledoc false
  # A streaming session as a value (in the manner of Mint's connections): every Chunker
  # call returns the updated one. It is pinned to the port process that opened it.
  #
  #   port       the Chunker.Port server holding the session
  #   id         the session id within that port program
  #   timeout    per-request timeout
  #   more       the port has unscanned input pending (it replied `more: true`)
  #   unsent     fed bytes not yet sent (a large feed goes over in slices)
  #   payloads   opened with :compress: every chunk list carries codecs and payloads

  @enforce_keys [:port, :id, :timeout]
  defstruct [:port, :id, :timeout, more: false, unsent: <<>>, payloads: false]

  @type t :: %__MODULE__{
          port: pid,
          id: non_neg_integer,
          timeout: timeout,
          more: boolean,
          unsent: binary,
          payloads: boolean
        }

  defimpl Inspect do
    def inspect(session, _opts),
      do: "#Chunker.Session<#{session.id}@#{Kernel.inspect(session.port)}>"
  end
end
