using Registry.LoadTests.Harness;
using Registry.LoadTests.Scenarios;

namespace Registry.Tests.LoadTests;

/// <summary>
/// <c>heartbeat-mqtt</c> runs devices and broker in one process: every connection is two of its open files. With more
/// devices than the limit allows, the runtime died "Out of memory." in the middle of the connect storm (10,000 devices
/// under a limit of 20,000, with the bare broker's storm first). The brokers now move to a child process when both
/// ends would not fit, and the scenario refuses before starting anything when even one end would not.
/// </summary>
public sealed class HeartbeatMqttScenarioTests
{
    [Fact]
    public void More_devices_than_the_process_may_open_sockets_for_are_refused_with_the_limit_and_how_to_raise_it()
    {
        var limit = HeartbeatMqttScenario.OpenFileLimit();
        Assert.NotNull(limit); // Linux: /proc/self/limits
        var devices = (int)Math.Min(int.MaxValue, limit!.Value); // twice as many sockets as the limit
        var refusal = Assert.Throws<ArgumentException>(() => new HeartbeatMqttScenario(new Arguments(["--devices", devices.ToString(System.Globalization.CultureInfo.InvariantCulture)])));
        Assert.Contains("ulimit -n", refusal.Message, StringComparison.Ordinal);
        Assert.Contains(limit.Value.ToString("N0", System.Globalization.CultureInfo.InvariantCulture), refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Devices_whose_two_ends_fit_under_the_limit_keep_their_brokers_in_the_process()
    {
        var limit = HeartbeatMqttScenario.OpenFileLimit()!.Value;
        var devices = (int)((limit - HeartbeatMqttScenario.FileHeadroom) / 2);
        Assert.True(devices > 0, $"the limit {limit} leaves no room for a device");
        Assert.False(new HeartbeatMqttScenario(new Arguments(["--devices", devices.ToString(System.Globalization.CultureInfo.InvariantCulture)])).InBrokersProcess);
        Assert.True(new HeartbeatMqttScenario(new Arguments(["--devices", "10", "--brokers-process"])).InBrokersProcess);
    }

    [Fact]
    public void Devices_whose_two_ends_do_not_fit_but_one_does_get_their_brokers_in_a_child_process()
    {
        var limit = HeartbeatMqttScenario.OpenFileLimit()!.Value;
        var devices = (int)Math.Min(int.MaxValue, limit - HeartbeatMqttScenario.FileHeadroom);
        Assert.True(2L * devices + HeartbeatMqttScenario.FileHeadroom > limit);
        Assert.True(new HeartbeatMqttScenario(new Arguments(["--devices", devices.ToString(System.Globalization.CultureInfo.InvariantCulture)])).InBrokersProcess);
    }
}
