defmodule Chunker.Store do
  @moduledoc """
  Chunk stores, named by URL, reached through the port pool (protocol/spec.md §4,
  "Stores"): `file:///path` (a local directory, the embedded default),
  `sftp://user@host:port/path`, `s3://bucket/prefix` (the usual `AWS_*` environment
  variables of the port program, `AWS_ENDPOINT_URL` for S3-compatible servers),
  `http(s)://host/path` (GET/HEAD/PUT/DELETE, as WebDAV-enabled web servers take them).
  `memory:` is a store inside one port process, for the port's own tests.

  Objects are named by relative, `/`-separated keys (`"chunks/ab/abcdef…"`). Writes are
  atomic: no reader ever sees part of an object. The port keeps each store's connections
  open between calls.

  Every function takes `:store_options` (a map with one map per backend, passed to the
  port as it is; see the README's Stores section), `:timeout` (ms, default 60 000) and
  `:pool`. Errors are `{:error, %Chunker.Error{}}` with the store reasons listed in
  `Chunker.Error`: `:not_found` for a missing object; `:store_unavailable`, `:store_busy`,
  `:store_timeout`, `:store_integrity` and `:store_error` may succeed when repeated, the
  others will not.

      iex> dir = Path.join(System.tmp_dir!(), "chunker-doc-store-\#{System.unique_integer([:positive])}")
      iex> url = "file://" <> dir
      iex> Chunker.Store.put(url, "chunks/ab/abc", "chunk bytes")
      {:ok, 11}
      iex> Chunker.Store.stat(url, "chunks/ab/abc")
      {:ok, 11}
      iex> Chunker.Store.get(url, "chunks/ab/abc", offset: 6)
      {:ok, "bytes"}
      iex> Chunker.Store.list(url, "chunks/")
      {:ok, [{"chunks/ab/abc", 11}]}
      iex> Chunker.Store.delete(url, "chunks/ab/abc")
      :ok
      iex> Chunker.Store.stat(url, "chunks/ab/abc")
      {:ok, nil}
      iex> File.rm_rf!(dir) != []
      true
  """

  alias Chunker.{Error, Options, Port, PortPool}

  @default_timeout_ms 60_000
  @common_keys [:store_options, :timeout, :pool]

  @typedoc "A store URL such as `\"file:///srv/cache\"` or `\"s3://bucket/prefix\"`."
  @type url :: String.t()
  @type option :: {:store_options, map} | {:timeout, timeout} | {:pool, atom}

  @doc "The object's size, or nil when there is none."
  @spec stat(url, String.t(), [option]) :: {:ok, non_neg_integer | nil} | {:error, Error.t()}
  def stat(url, name, opts \\ []) do
    with {:ok, reply} <- call("store_stat", url, %{"name" => name}, opts, []) do
      case reply do
        %{"exists" => true, "size" => size} when is_integer(size) -> {:ok, size}
        %{"exists" => false} -> {:ok, nil}
        other -> malformed(other)
      end
    end
  end

  @doc """
  The object's bytes, or with `:offset` and `:length` only that range (shorter where the
  object ends). A whole object must fit one reply of the port (its max frame size); read
  larger ones in ranges.
  """
  @spec get(url, String.t(), [option | {:offset, non_neg_integer} | {:length, non_neg_integer}]) ::
          {:ok, binary} | {:error, Error.t()}
  def get(url, name, opts \\ []) do
    with {:ok, {range, rest}} <- split(opts, [:offset, :length]),
         :ok <- Options.check_each(range, &check_range/2),
         args = Map.new(range, fn {key, value} -> {Atom.to_string(key), value} end),
         {:ok, reply} <- call("store_get", url, Map.put(args, "name", name), rest, []) do
      case reply["data"] do
        {:bin, data} -> {:ok, data}
        other -> malformed(other)
      end
    end
  end

  @doc """
  Stores `data` (a binary) or `{:file, path}` (a file the port reads itself, so its bytes
  never cross the pipe) under `name`, replacing any object of that name. Returns the size
  stored.
  """
  @spec put(url, String.t(), binary | {:file, Path.t()}, [option]) ::
          {:ok, non_neg_integer} | {:error, Error.t()}
  def put(url, name, data, opts \\ [])

  def put(url, name, data, opts) when is_binary(data),
    do: put_args(url, %{"name" => name, "data" => {:bin, data}}, opts)

  def put(url, name, {:file, path}, opts) when is_binary(path),
    do: put_args(url, %{"name" => name, "path" => Path.expand(path)}, opts)

  def put(_url, _name, data, _opts),
    do: Options.invalid("data", "a binary or {:file, path}", data)

  @doc "Removes the object; removing a missing object is fine."
  @spec delete(url, String.t(), [option]) :: :ok | {:error, Error.t()}
  def delete(url, name, opts \\ []) do
    with {:ok, _reply} <- call("store_delete", url, %{"name" => name}, opts, []), do: :ok
  end

  @doc """
  Every object whose name starts with `prefix`, as `{name, size}` sorted by name. The port
  streams the listing in batches; the whole list is built here, so list large stores by
  narrower prefixes.
  """
  @spec list(url, String.t(), [option]) ::
          {:ok, [{String.t(), non_neg_integer}]} | {:error, Error.t()}
  def list(url, prefix \\ "", opts \\ []) do
    tag = make_ref()
    result = call("store_list", url, %{"prefix" => prefix}, opts, {self(), tag})
    # Events travel before their reply on the same path, so they are all here now; they
    # are taken out of the mailbox whatever the result (a call that timed out leaves some).
    objects = collect_objects(tag, [])

    case result do
      {:ok, %{"count" => count}} when count == length(objects) ->
        {:ok, Enum.sort(objects)}

      {:ok, reply} ->
        malformed(reply)

      {:error, _} = error ->
        error
    end
  end

  @upload_keys [:transfers, :bwlimit, :max_memory, :state_dir, :progress, :progress_ms]
  @progress_keys ~w(objects_total objects_checked objects_done objects_skipped objects_failed
                    bytes_total bytes_done bytes_skipped concurrency in_flight bytes_per_second
                    eta_ms elapsed_ms)
  @summary_keys ~w(objects_total bytes_total objects_uploaded bytes_uploaded objects_skipped
                   bytes_skipped objects_resumed bytes_per_second elapsed_ms)
  @phases %{
    "checking" => :checking,
    "uploading" => :uploading,
    "verifying" => :verifying,
    "done" => :done
  }

  @doc """
  Uploads files the port reads itself: `{:dir, path}` (every regular file under it, named
  by its relative path) or a list of `{name, path}`. Objects the store already holds at
  the same size are skipped; the rest go in parallel (the limit backs off when the store
  shows errors or slows down), and each is verified by its stored size afterwards.
  Returns a summary map: `:objects_total`, `:bytes_total`, `:objects_uploaded`,
  `:bytes_uploaded`, `:objects_skipped`, `:bytes_skipped`, `:objects_resumed`,
  `:bytes_per_second`, `:elapsed_ms`.

  Options, besides the common ones (`:timeout` defaults to `:infinity` here):
    * `:progress` - a pid, sent `{:chunker_progress, progress}`, or a function of one
      argument, called in the caller's process; `progress` is a map with `:phase`
      (`:checking | :uploading | :verifying | :done`), `:objects_total`, `:objects_done`,
      `:objects_skipped`, `:objects_failed`, `:bytes_total`, `:bytes_done`, `:concurrency`,
      `:bytes_per_second`, `:eta_ms` (nil while unknown), ... (protocol/spec.md,
      `store_upload`); counts never decrease and the last one has phase `:done`;
    * `:progress_ms` - shortest time between progress reports (default 500);
    * `:transfers` - most uploads at once (default 8);
    * `:bwlimit` - bytes per second, or a string like `"10M"` (binary units);
    * `:max_memory` - bytes of objects held in memory at once (default 128 MiB; a put
      that streams holds a few MiB whatever the object's size);
    * `:state_dir` - keep a resume journal there, so a run killed part way and started
      again trusts what it recorded once the store confirms it.

  If objects still fail after retries the result is an error with reason
  `:upload_failed` naming them; the others are stored, and the same call again sends
  only what is missing.
  """
  @spec upload(url, {:dir, Path.t()} | [{String.t(), Path.t()}], keyword) ::
          {:ok, map} | {:error, Error.t()}
  def upload(url, source, opts \\ []) do
    with {:ok, {upload, rest}} <- split(opts, @upload_keys),
         :ok <- Options.check_each(upload, &check_upload/2),
         {:ok, args} <- source_args(source) do
      args =
        upload
        |> Keyword.drop([:progress])
        |> Enum.reduce(args, fn
          {:state_dir, dir}, acc -> Map.put(acc, "state_dir", Path.expand(dir))
          {key, value}, acc -> Map.put(acc, Atom.to_string(key), value)
        end)

      run_upload(url, args, Keyword.put_new(rest, :timeout, :infinity), upload[:progress])
    end
  end

  # The request runs in a task so this process can relay progress while it waits; the
  # port sends each event here directly (listener), before the reply reaches the task.
  defp run_upload(url, args, opts, progress) do
    tag = make_ref()
    caller = self()
    task = Task.async(fn -> call("store_upload", url, args, opts, {caller, tag}) end)
    result = relay_progress(task, tag, progress)
    # Events that raced the reply are still reported, in order.
    drain_progress(tag, progress)

    case result do
      {:ok, reply} -> {:ok, pick(reply, @summary_keys)}
      {:error, _} = error -> error
    end
  end

  defp relay_progress(%Task{ref: ref} = task, tag, progress) do
    receive do
      {:chunker_event, ^tag, %{"event" => "progress"} = event} ->
        notify(progress, progress_map(event))
        relay_progress(task, tag, progress)

      {^ref, result} ->
        Process.demonitor(ref, [:flush])
        result

      {:DOWN, ^ref, :process, _pid, reason} ->
        {:error, Error.new(:internal, "the upload request process died: #{inspect(reason)}")}
    end
  end

  defp drain_progress(tag, progress) do
    receive do
      {:chunker_event, ^tag, %{"event" => "progress"} = event} ->
        notify(progress, progress_map(event))
        drain_progress(tag, progress)
    after
      0 -> :ok
    end
  end

  defp notify(nil, _progress), do: :ok
  defp notify(pid, progress) when is_pid(pid), do: send(pid, {:chunker_progress, progress})
  defp notify(fun, progress) when is_function(fun, 1), do: fun.(progress)

  defp progress_map(event) do
    event
    |> pick(@progress_keys)
    |> Map.put(:phase, Map.get(@phases, event["phase"], :unknown))
  end

  defp pick(map, keys), do: Map.new(keys, &{String.to_atom(&1), map[&1]})

  defp source_args({:dir, path}) when is_binary(path), do: {:ok, %{"dir" => Path.expand(path)}}

  defp source_args(files) when is_list(files) do
    if Enum.all?(files, &match?({name, path} when is_binary(name) and is_binary(path), &1)) do
      {:ok,
       %{
         "files" =>
           Enum.map(files, fn {name, path} -> %{"name" => name, "path" => Path.expand(path)} end)
       }}
    else
      Options.invalid("files", "a list of {name, path} string pairs", files)
    end
  end

  defp source_args(source),
    do: Options.invalid("source", "{:dir, path} or a list of {name, path}", source)

  defp check_upload(:progress, value)
       when is_pid(value) or is_function(value, 1) or is_nil(value),
       do: :ok

  defp check_upload(:progress, value),
    do: Options.invalid("progress", "a pid or a function of one argument", value)

  defp check_upload(:bwlimit, value) when is_binary(value), do: :ok
  defp check_upload(:state_dir, value) when is_binary(value), do: :ok

  defp check_upload(:state_dir, value),
    do: Options.invalid("state_dir", "a directory path (string)", value)

  defp check_upload(key, value) when key in [:transfers, :max_memory, :progress_ms, :bwlimit] do
    if is_integer(value) and value > 0,
      do: :ok,
      else: Options.invalid(Atom.to_string(key), "a positive integer", value)
  end

  defp collect_objects(tag, acc) do
    receive do
      {:chunker_event, ^tag, %{"event" => "objects", "names" => names, "sizes" => sizes}} ->
        collect_objects(tag, Enum.zip(names, sizes) ++ acc)
    after
      0 -> acc
    end
  end

  defp put_args(url, args, opts) do
    with {:ok, reply} <- call("store_put", url, args, opts, []) do
      case reply["size"] do
        size when is_integer(size) -> {:ok, size}
        other -> malformed(other)
      end
    end
  end

  defp call(op, url, args, opts, listener) when is_binary(url) do
    with {:ok, {common, rest}} <- split(opts, @common_keys),
         :ok <- no_other_options(rest),
         :ok <- check_store_options(Keyword.fetch(common, :store_options)),
         {:ok, _} <- Options.validate(Keyword.delete(common, :store_options), [:timeout, :pool]),
         :ok <- check_name(args),
         {:ok, port} <- PortPool.pick(Keyword.get(common, :pool, PortPool)) do
      args =
        args
        |> Map.put("url", url)
        |> put_store_options(common[:store_options])

      listener = if listener == [], do: nil, else: listener
      Port.request(port, {op, args}, Keyword.get(common, :timeout, @default_timeout_ms), listener)
    end
  end

  defp call(_op, url, _args, _opts, _listener), do: Options.invalid("url", "a string", url)

  defp put_store_options(args, nil), do: args
  defp put_store_options(args, options), do: Map.put(args, "store_options", stringify(options))

  # Option maps may use atom keys; the wire wants strings (values pass through).
  defp stringify(map) when is_map(map),
    do: Map.new(map, fn {key, value} -> {to_string(key), stringify(value)} end)

  defp stringify(list) when is_list(list) do
    if Keyword.keyword?(list) and list != [], do: stringify(Map.new(list)), else: list
  end

  defp stringify(other), do: other

  defp split(opts, keys) do
    if Keyword.keyword?(opts),
      do: {:ok, Keyword.split(opts, keys)},
      else: Options.invalid("options", "a keyword list", opts)
  end

  defp no_other_options([]), do: :ok

  defp no_other_options([{key, _} | _]),
    do: Options.invalid("options", "only the options this function documents", key)

  defp check_name(%{"name" => name}) when is_binary(name) and name != "", do: :ok
  defp check_name(%{"name" => name}), do: Options.invalid("name", "a non-empty string", name)
  defp check_name(%{"prefix" => prefix}) when is_binary(prefix), do: :ok
  defp check_name(%{"prefix" => prefix}), do: Options.invalid("prefix", "a string", prefix)
  defp check_name(_args), do: :ok

  defp check_store_options(:error), do: :ok
  defp check_store_options({:ok, value}) when is_map(value), do: :ok

  defp check_store_options({:ok, value}),
    do: Options.invalid("store_options", "a map of maps, one per backend", value)

  defp check_range(_key, value) when is_integer(value) and value >= 0, do: :ok

  defp check_range(key, value),
    do: Options.invalid(Atom.to_string(key), "a non-negative integer", value)

  defp malformed(other),
    do: {:error, Error.new(:internal, "malformed store reply: #{inspect(other, limit: 8)}")}
end
