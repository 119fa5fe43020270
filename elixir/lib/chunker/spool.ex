defmodule Chunker.Spool do
  @moduledoc false
  # The client side of the spool (protocol/spec.md, section 4, `spool`): a file on tmpfs
  # (/dev/shm) that the port program maps, cut into equal slots. A large feed is written
  # into a free slot with one pwrite and its request names the slot's range instead of
  # carrying the bytes. That skips the pipe, which carries well under 1 GB/s, for a
  # memory copy that runs at several GB/s; the program reads the bytes from its mapping
  # without a copy.
  #
  # Slots: a slot is taken for one request id and released when a reply with that id
  # arrives — any reply, also one that comes after its caller timed out, because until
  # then the program may still be reading the slot (spec: the range is the client's again
  # only once the reply has arrived).
  #
  # The file is unlinked as soon as the program has answered the `spool` request: the
  # program's mapping and this process's descriptor keep its pages, and nothing is left in
  # /dev/shm when either side dies. Raw files may only be used by the process that opened
  # them, so every function here runs in the Chunker.Port server that owns the spool.

  require Logger

  @dir "/dev/shm"

  @enforce_keys [:fd, :path, :slot_bytes, :slots]
  defstruct [:fd, :path, :slot_bytes, :slots, free: [], busy: %{}, feeds: 0]

  @type t :: %__MODULE__{
          fd: :file.io_device(),
          # nil once unlinked
          path: String.t() | nil,
          slot_bytes: pos_integer,
          slots: pos_integer,
          # offsets of the free slots
          free: [non_neg_integer],
          # request id => offset of its slot
          busy: %{pos_integer => non_neg_integer},
          # feeds sent through the spool so far
          feeds: non_neg_integer
        }

  @doc """
  Creates the spool file: `spool_bytes` cut into slots of at most `slot_bytes` (one slot of
  `spool_bytes` if that is smaller). The file is sparse: tmpfs pages are only allocated for
  slots that are written. `{:skip, why}` when #{@dir} is not a writable directory.
  """
  @spec create(pos_integer, pos_integer) :: {:ok, t} | {:skip, String.t()} | {:error, String.t()}
  def create(spool_bytes, slot_bytes) when spool_bytes > 0 and slot_bytes > 0 do
    slot_bytes = min(spool_bytes, slot_bytes)
    slots = div(spool_bytes, slot_bytes)
    name = "chunker-#{System.pid()}-#{System.unique_integer([:positive])}"
    path = Path.join(@dir, name)

    with :ok <- writable_dir(@dir),
         {:ok, fd} <- open(path) do
      case size(fd, slots * slot_bytes) do
        :ok ->
          free = for slot <- 0..(slots - 1), do: slot * slot_bytes
          {:ok, %__MODULE__{fd: fd, path: path, slot_bytes: slot_bytes, slots: slots, free: free}}

        {:error, reason} ->
          _ = :file.close(fd)
          _ = File.rm(path)
          {:error, "cannot size #{path}: #{:file.format_error(reason)}"}
      end
    end
  end

  @doc "The file's size: what the `spool` request asks the program to map."
  @spec bytes(t) :: pos_integer
  def bytes(%__MODULE__{slot_bytes: slot_bytes, slots: slots}), do: slots * slot_bytes

  @doc """
  Writes `data` into a free slot for request `id`. `:none` when it does not fit a slot or
  no slot is free; `{:error, reason, spool}` when the write failed (the slot stays free).
  """
  @spec put(t, pos_integer, binary) ::
          {:ok, non_neg_integer, t} | :none | {:error, String.t(), t}
  def put(%__MODULE__{free: [offset | free]} = spool, id, data)
      when byte_size(data) <= spool.slot_bytes do
    case :file.pwrite(spool.fd, offset, data) do
      :ok ->
        busy = Map.put(spool.busy, id, offset)
        {:ok, offset, %{spool | free: free, busy: busy, feeds: spool.feeds + 1}}

      {:error, reason} ->
        {:error, "cannot write to the spool file: #{:file.format_error(reason)}", spool}
    end
  end

  def put(%__MODULE__{}, _id, _data), do: :none

  @doc "Frees the slot of request `id`, if it has one."
  @spec release(t, pos_integer) :: t
  def release(%__MODULE__{busy: busy} = spool, id) when is_map_key(busy, id) do
    {offset, busy} = Map.pop(busy, id)
    %{spool | free: [offset | spool.free], busy: busy}
  end

  def release(%__MODULE__{} = spool, _id), do: spool

  @doc "Removes the file's name; the open descriptor and the program's mapping keep it alive."
  @spec unlink(t) :: t
  def unlink(%__MODULE__{path: nil} = spool), do: spool

  def unlink(%__MODULE__{path: path} = spool) do
    case File.rm(path) do
      :ok -> :ok
      {:error, reason} -> Logger.warning("Chunker could not remove #{path}: #{inspect(reason)}")
    end

    %{spool | path: nil}
  end

  @doc "Unlinks the file if need be and closes it."
  @spec close(t) :: :ok
  def close(%__MODULE__{} = spool) do
    %__MODULE__{fd: fd} = unlink(spool)
    _ = :file.close(fd)
    :ok
  end

  @doc "What Chunker.Port.info/1 reports."
  @spec info(t) :: map
  def info(%__MODULE__{} = spool),
    do: %{
      bytes: bytes(spool),
      slot_bytes: spool.slot_bytes,
      busy: map_size(spool.busy),
      feeds: spool.feeds
    }

  defp writable_dir(dir) do
    case File.stat(dir) do
      {:ok, %File.Stat{type: :directory, access: :read_write}} -> :ok
      {:ok, _stat} -> {:skip, "#{dir} is not a writable directory"}
      {:error, reason} -> {:skip, "#{dir} is not usable: #{:file.format_error(reason)}"}
    end
  end

  # :exclusive: never take over a file someone else made under that name.
  defp open(path) do
    case :file.open(path, [:raw, :binary, :read, :write, :exclusive]) do
      {:ok, fd} -> {:ok, fd}
      {:error, reason} -> {:error, "cannot create #{path}: #{:file.format_error(reason)}"}
    end
  end

  defp size(fd, bytes) do
    with {:ok, _position} <- :file.position(fd, bytes), do: :file.truncate(fd)
  end
end
