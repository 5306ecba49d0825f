using Registry.Abstractions;
using Registry.Host;
using Registry.Tests.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>
/// <c>Registry:Routes</c>: sources as IoT Hub spells route sources (any case), none by default; a route the registry
/// cannot honour stops the start with one line naming it.
/// </summary>
public sealed class RouteConfigurationTests
{
    [Fact]
    public void No_route_is_configured_by_default_so_nothing_is_routed()
    {
        var settings = new RegistrySettings();

        settings.Validate();

        Assert.Empty(settings.Routes);
        Assert.Empty(settings.RoutedSources());
    }

    [Fact]
    public void Route_sources_are_read_in_any_case_and_only_enabled_routes_count()
    {
        var settings = new RegistrySettings
        {
            Routes =
            [
                new() { Name = "lifecycle", Source = "deviceLIFECYCLEevents" },
                new() { Name = "lifecycle-copy", Source = "DeviceLifecycleEvents" },
                new() { Name = "alerts", Source = "HeartbeatEvents", Enabled = false },
            ],
        };

        settings.Validate();

        Assert.Equal([RegistryEventSources.DeviceLifecycle], settings.RoutedSources());
    }

    [Theory]
    [InlineData("contoso.azure-devices.net", "contoso")]
    [InlineData("localhost", "localhost")]
    [InlineData("registry.example.org", "registry")]
    public void The_hub_name_is_the_host_name_up_to_its_first_dot(string hostName, string hubName) =>
        Assert.Equal(hubName, new RegistrySettings { HostName = hostName }.HubName);

    [Theory]
    [InlineData("Telemetry", "r1", "r2", "Registry:Routes:0:Source=Telemetry is not a route source: use DeviceLifecycleEvents or HeartbeatEvents.")]
    [InlineData("", "r1", "r2", "Registry:Routes:0:Source= is not a route source")]
    [InlineData("HeartbeatEvents", "same", "SAME", "Registry:Routes:1:Name=SAME names another route too")]
    [InlineData("HeartbeatEvents", "has space", "r2", "Registry:Routes:0:Name=has space is not a route name")]
    [InlineData("HeartbeatEvents", "", "r2", "Registry:Routes:0:Name= is not a route name")]
    public void A_route_with_an_unknown_source_a_bad_or_duplicate_name_is_refused_naming_it(string source, string firstName, string secondName, string named)
    {
        var settings = new RegistrySettings
        {
            Routes =
            [
                new() { Name = firstName, Source = source },
                new() { Name = secondName, Source = "DeviceLifecycleEvents" },
            ],
        };

        var refusal = Assert.Throws<RegistryStartupException>(settings.Validate);

        Assert.Contains(named, refusal.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refusal.Message);
    }

    [Theory(Timeout = 120_000)]
    [InlineData("--Registry:Routes:0:Source=Telemetry", "Registry:Routes:0:Source=Telemetry is not a route source")]
    [InlineData("--Registry:Routes:1:Source=HeartbeatEvents", "Registry:Routes:1:Name=lifecycle names another route too")]
    [InlineData("--Registry:Routes:0:Enabled=maybe", "Invalid configuration, nothing was started: Registry:Routes:0:Enabled=maybe is not true or false: use true or false.")]
    [InlineData("--Registry:Routes:0:Enabled=yes", "Invalid configuration, nothing was started: Registry:Routes:0:Enabled=yes is not true or false: use true or false.")]
    public async Task An_unusable_route_stops_the_process_with_exit_code_1_and_one_line_naming_it(string second, string named)
    {
        var ct = TestContext.Current.CancellationToken;
        var work = Directory.CreateTempSubdirectory("registry-proc-").FullName;
        var data = Path.Combine(work, "data");
        // The first route is fine; the second argument spoils its source, adds a route of the same name, or gives a
        // complete route an Enabled that is not a boolean (the binder drops such a list item silently: route off).
        string[] routes = second.Contains("Routes:1", StringComparison.Ordinal)
            ? ["--Registry:Routes:0:Name=lifecycle", "--Registry:Routes:0:Source=DeviceLifecycleEvents", "--Registry:Routes:1:Name=lifecycle", second]
            : second.Contains("Enabled", StringComparison.Ordinal)
                ? ["--Registry:Routes:0:Name=lifecycle", "--Registry:Routes:0:Source=DeviceLifecycleEvents", second]
                : ["--Registry:Routes:0:Name=lifecycle", second];
        string[] args = [.. SecondStartTests.Arguments(data, FreePorts.Take(3)), .. routes];
        await using var host = RegistryProcess.Start(work, args);

        await SecondStartTests.AssertRefusedInOneLineAsync(host, named, data, ct);
    }
}
