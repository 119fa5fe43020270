defmodule Chunker.Error do
  @moduledoc """
  The error every `Chunker` function returns as `{:error, %Chunker.Error{}}` and every
  bang variant raises.

  `reason` is an atom that code can match on; `message` is for people.

  Reasons sent by the port program (see `protocol/spec.md`, section 5):
  `:frame_too_large`, `:invalid_frame`, `:invalid_request`, `:unknown_op`,
  `:unsupported_protocol`, `:invalid_argument`, `:unknown_session`, `:session_busy`,
  `:session_finishing`, `:session_limit`, `:not_found`, `:io_error`, `:invalid_nar`,
  `:internal`, and from compression: `:size_exceeded`, `:memory_limit`, `:truncated_input`,
  `:corrupt_input`, `:unknown_format`, `:dictionary_required`, `:dictionary_mismatch`,
  `:invalid_dictionary`, `:training_failed`, `:no_memory`, and from stores: `:store_auth`,
  `:store_permission`, `:store_full`, `:store_config`, `:store_closed`, `:aborted` (permanent) and
  `:store_integrity`, `:store_unavailable`, `:store_busy`, `:store_timeout`,
  `:store_error` (worth retrying), and `:upload_failed` (`Chunker.Store.upload/3`: some
  objects failed; the same call again resumes). A code this client does not know arrives as
  `:unknown_error` with the code in the message.

  Reasons added on the Elixir side:

    * `:invalid_argument` - also for options rejected before anything is sent;
    * `:port_exited` - the port process died (the message carries its exit status); its
      sessions are gone;
    * `:timeout` - no reply within the call's `:timeout`; the port keeps serving and drops
      the late reply, but a session that timed out is in an unknown state: close it;
    * `:port_unavailable` - no port process could be started (node or the port script is
      missing; the message says what to do).

  ## Example

      iex> Chunker.open(min_size: 1)
      {:error, %Chunker.Error{reason: :invalid_argument,
                              message: "Expected an integer between 64 and 1048576 for min_size but received 1"}}
  """

  defexception [:reason, :message]

  @type reason ::
          :frame_too_large
          | :invalid_frame
          | :invalid_request
          | :unknown_op
          | :unsupported_protocol
          | :invalid_argument
          | :unknown_session
          | :session_busy
          | :session_finishing
          | :session_limit
          | :not_found
          | :io_error
          | :invalid_nar
          | :size_exceeded
          | :memory_limit
          | :truncated_input
          | :corrupt_input
          | :unknown_format
          | :dictionary_required
          | :dictionary_mismatch
          | :invalid_dictionary
          | :training_failed
          | :no_memory
          | :store_auth
          | :store_permission
          | :store_full
          | :store_config
          | :store_closed
          | :aborted
          | :upload_failed
          | :store_integrity
          | :store_unavailable
          | :store_busy
          | :store_timeout
          | :store_error
          | :internal
          | :unknown_error
          | :port_exited
          | :timeout
          | :port_unavailable

  @type t :: %__MODULE__{reason: reason, message: String.t()}

  @wire_reasons Map.new(
                  ~w(frame_too_large invalid_frame invalid_request unknown_op
                     unsupported_protocol invalid_argument unknown_session session_busy
                     session_finishing session_limit not_found io_error invalid_nar internal
                     size_exceeded memory_limit truncated_input corrupt_input unknown_format
                     dictionary_required dictionary_mismatch invalid_dictionary training_failed
                     no_memory store_auth store_permission store_full store_config store_closed aborted upload_failed
                     store_integrity store_unavailable store_busy store_timeout store_error)a,
                  &{Atom.to_string(&1), &1}
                )

  @impl true
  def message(%__MODULE__{reason: reason, message: message}), do: "#{reason}: #{message}"

  @doc false
  @spec new(reason, String.t()) :: t
  def new(reason, message) when is_atom(reason) and is_binary(message),
    do: %__MODULE__{reason: reason, message: message}

  @doc false
  # The `error` map of a reply or error event. Codes become atoms only from a fixed list,
  # so a misbehaving port cannot grow the atom table.
  @spec from_wire(term) :: t
  def from_wire(%{"code" => code, "message" => message}) when is_binary(code) do
    case Map.fetch(@wire_reasons, code) do
      {:ok, reason} -> new(reason, to_string(message))
      :error -> new(:unknown_error, "#{code}: #{message}")
    end
  end

  def from_wire(other), do: new(:internal, "malformed error from the port: #{inspect(other)}")
end
