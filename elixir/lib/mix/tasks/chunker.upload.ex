defmodule Mix.Tasks.Chunker.Upload do
  @shortdoc "Uploads a directory of objects into a chunk store, with progress"

  @moduledoc """
  Uploads every regular file under a directory into a store with
  `Chunker.Store.upload/3`: objects the store already holds at the same size are skipped,
  the rest go in parallel, and a line of progress is printed to stderr as it goes.

      mix chunker.upload DIR URL [--transfers N] [--bwlimit RATE] [--state-dir DIR]

  `URL` is any store URL (`file:///srv/cache`, `sftp://user@host/path`,
  `s3://bucket/prefix`, `http://host/path`); `--bwlimit` takes rclone's units (`10M`,
  binary; `off`). With `--state-dir` a run that is killed and started again resumes from
  its journal. The files are read by the port programs, not by the BEAM. Prints a summary;
  exits with status 1 if any object failed (the others are stored).
  """

  use Mix.Task

  @switches [transfers: :integer, bwlimit: :string, state_dir: :string]

  @impl Mix.Task
  def run(argv) do
    {parsed, args, invalid} = OptionParser.parse(argv, strict: @switches)

    {dir, url} =
      case {args, invalid} do
        {[dir, url], []} ->
          {dir, url}

        _ ->
          Mix.raise("usage: mix chunker.upload DIR URL [options] (see `mix help chunker.upload`)")
      end

    unless File.dir?(dir), do: Mix.raise("#{dir}: not a directory")

    Mix.Task.run("app.start")
    opts = [progress: &print_progress/1, progress_ms: 1_000] ++ parsed

    case Chunker.Store.upload(url, {:dir, dir}, opts) do
      {:ok, summary} ->
        Mix.shell().info(summary_text(summary))

      {:error, error} ->
        Mix.shell().error("upload: #{Exception.message(error)}")
        exit({:shutdown, 1})
    end
  end

  defp print_progress(%{phase: phase} = progress) do
    eta = if progress.eta_ms, do: ", ETA #{div(progress.eta_ms + 999, 1000)} s", else: ""

    IO.puts(
      :stderr,
      "upload: #{phase} #{progress.objects_done}/#{progress.objects_total} objects, " <>
        "#{mib(progress.bytes_done)}/#{mib(progress.bytes_total)} MiB, " <>
        "#{mib(progress.bytes_per_second)} MiB/s, #{progress.concurrency} at once#{eta}"
    )
  end

  defp summary_text(summary) do
    """
    objects:  #{summary.objects_total} (#{mib(summary.bytes_total)} MiB)
    uploaded: #{summary.objects_uploaded} (#{mib(summary.bytes_uploaded)} MiB)
    skipped:  #{summary.objects_skipped} already stored (#{summary.objects_resumed} from the journal)
    rate:     #{mib(summary.bytes_per_second)} MiB/s in #{summary.elapsed_ms} ms\
    """
  end

  defp mib(bytes), do: :erlang.float_to_binary(bytes / 1_048_576, decimals: 1)
end
