using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>A stopping host ends its open event streams instead of waiting for their consumers to leave.</summary>
public sealed class EventStreamShutdownTests
{
    [Fact(Timeout = 120_000)]
    public async Task Stopping_the_host_ends_an_open_event_stream()
    {
        var ct = TestContext.Current.CancellationToken;
        var host = await RegistryTestHost.StartAsync(RoutedHostFixture.Routes);
        using var http = host.CreateClient();
        await using var events = await EventStreamClient.OpenAsync(http, "deviceLifecycleEvents", ct);

        await host.DisposeAsync();

        // A clean end of the response (the last chunk), not a connection Kestrel aborts once the shutdown timeout passed.
        await Assert.ThrowsAsync<EndOfStreamException>(async () =>
        {
            while (true)
            {
                await events.ReadLineAsync(ct);
            }
        });
    }
}
