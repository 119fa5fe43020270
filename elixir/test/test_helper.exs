alias Chunker.Test.OSProcess

# os pids of every port program the tests start or watch; none may outlive the suite.
:ets.new(:chunker_test_os_pids, [:named_table, :public, :set])

# npm test prints one closing line for every suite; it reads this suite's counts from here.
ExUnit.after_suite(fn results ->
  if path = System.get_env("CHUNKER_TEST_RESULTS") do
    File.mkdir_p!(Path.dirname(path))

    File.write!(
      path,
      ~s({"numPassedTests": #{results.total - results.failures - results.skipped - results.excluded}, ) <>
        ~s("numFailedTests": #{results.failures}, "numPendingTests": #{results.skipped}}\n)
    )
  end
end)

ExUnit.after_suite(fn _results ->
  pool_os_pids =
    for port <- Chunker.PortPool.ports(Chunker.PortPool),
        os_pid = Chunker.Port.info(port).os_pid,
        do: os_pid

  # Stopping the application closes the pool's ports: their programs see end-of-file.
  Logger.configure(level: :warning)
  :ok = Application.stop(:chunker)

  left = Enum.reject(Enum.uniq(pool_os_pids ++ OSProcess.tracked()), &OSProcess.await_exit/1)

  if left != [] do
    Enum.each(left, &OSProcess.kill/1)
    raise "port programs still running after the suite (now killed): #{inspect(left)}"
  end
end)

ExUnit.start(exclude: [:stress])
