using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Streams;
using Registry.Abstractions;
using Registry.Grains.Events;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Events;

/// <summary>The default registry has no routes: nothing is produced, no stream provider runs, and the event stream says why.</summary>
public sealed class UnroutedEventStreamTests(RegistryHostFixture fixture) : IClassFixture<RegistryHostFixture>
{
    [Theory(Timeout = 60_000)]
    [InlineData("deviceLifecycleEvents")]
    [InlineData("HeartbeatEvents")]
    public async Task Without_a_route_the_event_stream_answers_400_RoutingNotEnabled(string source)
    {
        using var response = await fixture.Client.GetAsync(EventStreamClient.Path(source), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("RoutingNotEnabled", response.Headers.GetValues(RegistryHttp.ErrorCodeHeader).Single());
    }

    [Fact]
    public void Without_a_route_the_sink_routes_nothing_and_no_stream_provider_runs()
    {
        var sink = fixture.Host.Services.GetRequiredService<IRegistryEventSink>();

        Assert.IsType<UnroutedEventSink>(sink);
        Assert.All(RegistryEventSources.All, source => Assert.False(sink.IsRouted(source)));
        Assert.Null(fixture.Host.Services.GetKeyedService<IStreamProvider>(RegistryStreams.Provider));
    }
}
