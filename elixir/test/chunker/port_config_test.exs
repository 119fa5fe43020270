defmodule Chunker.PortConfigTest do
  # Environment variables are global: not async.
  use ExUnit.Case, async: false

  alias Chunker.PortConfig
  alias Chunker.Test.Paths

  setup do
    saved =
      for name <- ~w(CHUNKER_PORT_SCRIPT CHUNKER_NODE CHUNKER_SPOOL_BYTES),
          into: %{},
          do: {name, System.get_env(name)}

    saved_app = Application.get_all_env(:chunker)

    on_exit(fn ->
      Enum.each(saved, fn
        {name, nil} -> System.delete_env(name)
        {name, value} -> System.put_env(name, value)
      end)

      Enum.each(saved_app, fn {key, value} -> Application.put_env(:chunker, key, value) end)
    end)
  end

  test "by default: node from PATH, the script in the repository's dist/" do
    System.delete_env("CHUNKER_PORT_SCRIPT")
    System.delete_env("CHUNKER_NODE")
    config = PortConfig.resolve([])

    assert config.script == Paths.port_script()
    assert config.node == System.find_executable("node")
    assert config.max_frame_bytes == 67_108_864
    assert config.args == [Paths.port_script()]
    assert PortConfig.check(config) == :ok
  end

  test "an option beats the environment variable, which beats the application setting" do
    Application.put_env(:chunker, :port_script, "/from/app/env.js")
    System.delete_env("CHUNKER_PORT_SCRIPT")
    assert PortConfig.resolve([]).script == "/from/app/env.js"

    System.put_env("CHUNKER_PORT_SCRIPT", "/from/env/var.js")
    assert PortConfig.resolve([]).script == "/from/env/var.js"
    assert PortConfig.resolve(port_script: "/from/option.js").script == "/from/option.js"

    System.put_env("CHUNKER_NODE", "/opt/node/bin/node")
    assert PortConfig.resolve([]).node == "/opt/node/bin/node"
    assert {:error, message} = PortConfig.check(PortConfig.resolve([]))
    assert message =~ "/opt/node/bin/node"
  end

  test "an empty environment variable counts as unset" do
    System.put_env("CHUNKER_PORT_SCRIPT", "")
    assert PortConfig.resolve([]).script == Paths.port_script()
  end

  test "max_frame_bytes is passed to the program" do
    config = PortConfig.resolve(max_frame_bytes: 1_048_576)
    assert config.max_frame_bytes == 1_048_576
    assert config.args == [config.script, "--max-frame-bytes", "1048576"]
  end

  test "a missing script says to build it" do
    assert {:error, message} = PortConfig.check(PortConfig.resolve(port_script: "/no/main.js"))
    assert message =~ "/no/main.js"
    assert message =~ "npm run build:ts"
  end

  test "spool_bytes: 32 MiB by default; option, environment variable, application setting" do
    System.delete_env("CHUNKER_SPOOL_BYTES")
    Application.delete_env(:chunker, :spool_bytes)
    assert PortConfig.resolve([]).spool_bytes == 33_554_432

    Application.put_env(:chunker, :spool_bytes, 1_048_576)
    assert PortConfig.resolve([]).spool_bytes == 1_048_576
    System.put_env("CHUNKER_SPOOL_BYTES", "0")
    assert PortConfig.resolve([]).spool_bytes == 0
    assert PortConfig.resolve(spool_bytes: 4096).spool_bytes == 4096
    System.put_env("CHUNKER_SPOOL_BYTES", "")
    assert PortConfig.resolve([]).spool_bytes == 1_048_576
  end

  test "a spool_bytes that is not a non-negative integer is refused, naming where it came from" do
    System.put_env("CHUNKER_SPOOL_BYTES", "lots")
    assert_raise ArgumentError, ~r/CHUNKER_SPOOL_BYTES=lots/, fn -> PortConfig.resolve([]) end
    System.delete_env("CHUNKER_SPOOL_BYTES")
    assert_raise ArgumentError, ~r/-1/, fn -> PortConfig.resolve(spool_bytes: -1) end
  end
end
