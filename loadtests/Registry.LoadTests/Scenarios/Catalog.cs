using Registry.LoadTests.Harness;

namespace Registry.LoadTests.Scenarios;

/// <summary>
/// Every scenario the harness runs, by name. A new scenario is a class implementing <see cref="IScenario"/> and one
/// line here.
/// </summary>
internal static class Catalog
{
    public static IReadOnlyList<ScenarioEntry> All { get; } =
    [
        new("heartbeat-grain", "heartbeats through the grain interface (Orleans client), single and batched, beside a no-op grain call", a => new HeartbeatGrainScenario(a)),
        new("heartbeat-http", "heartbeats as device telemetry over HTTPS, each device with its own SAS token, beside a no-op Kestrel POST", a => new HeartbeatHttpScenario(a)),
        new("heartbeat-mqtt", "a connect storm of devices over MQTT/TLS, then QoS 1 telemetry as heartbeats, beside a bare MQTTnet broker", a => new HeartbeatMqttScenario(a)),
        new("alert-soak", "heartbeat monitoring on for every device, a seeded set goes silent and some come back: every alert exactly once, none false, none missed (--kill-silo-at: two silo processes, one killed)", a => new AlertSoakScenario(a)),
        new("import-export", "an import job of every device from devices.txt in Azurite, then an export of them all, beside storage doing the same writes, scans and upload alone", a => new ImportExportScenario(a)),
        new("registry-crud", "create/get/update/delete over HTTPS with ETags in If-Match, beside a no-op Kestrel GET", a => new RegistryCrudScenario(a)),
    ];

    /// <summary>
    /// The scenarios other than <paramref name="except"/> that read <paramref name="option"/>: each is built on that option
    /// alone (scenarios only parse in their constructors; a refusal of the value still shows the option was read).
    /// </summary>
    public static IReadOnlyList<string> ScenariosTaking(string option, string? value, string except) =>
        [.. All.Where(s => s.Name != except && Reads(s, option, value)).Select(s => s.Name)];

    private static bool Reads(ScenarioEntry scenario, string option, string? value)
    {
        var probe = new Arguments(value is null ? [option] : [option, value]);
        try
        {
            scenario.Create(probe);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or IOException)
        {
        }
        return probe.WasRead(option);
    }
}
