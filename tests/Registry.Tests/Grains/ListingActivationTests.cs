using Orleans.Core.Internal;
using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>
/// A listing reads each device through its grain (docs/invariants.md §3: readers drop phantoms in the device's turn), and
/// an activation the read itself started goes once idle: a cursor walk over devices that had gone idle left every one it
/// listed active for <c>DeviceIdleMinutes</c>, a million activations (gigabytes) for one client paging through a million
/// devices. An activation in use before the read keeps what it holds.
/// </summary>
public sealed class ListingActivationTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private IManagementGrain Management => fixture.Grains.GetGrain<IManagementGrain>(0);

    [Fact]
    public async Task A_listing_lets_go_of_the_device_activations_it_started()
    {
        var ids = Enumerable.Range(0, 5).Select(_ => NewId("listed-idle")).ToArray();
        foreach (var id in ids)
        {
            await fixture.Device(id).Create(Sas(id));
            await fixture.Device(id).Cast<IGrainManagementExtension>().DeactivateOnIdle();
        }
        Assert.True(await InactiveWithinGuardAsync(ids), "the devices did not deactivate before the listing");

        var listed = await WalkAsync();

        Assert.Empty(ids.Except(listed));
        // Each read started its device's activation; none is left once the reads are answered (the idle age is minutes).
        Assert.True(await InactiveWithinGuardAsync(ids), "a device the listing activated is still active");
    }

    [Fact]
    public async Task A_device_in_use_when_listed_keeps_its_activation_and_its_session()
    {
        var id = NewId("listed-in-use");
        await fixture.Device(id).Create(Sas(id));
        var session = new DeviceSession(Guid.NewGuid(), null, null);
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Connect(session));

        Assert.Contains(id, await WalkAsync());

        Assert.Equal(1, await Management.GetGrainActivationCount((GrainReference)fixture.Device(id)));
        // A new activation would know no session: its messages would be refused and the device shown disconnected.
        Assert.Equal(DeviceAccess.Granted, await fixture.Device(id).Message(new DeviceMessage(DeviceTransport.Mqtt, session.SessionId, null, 1)));
        Assert.Equal(DeviceConnectionState.Connected, (await fixture.Device(id).Get())!.ConnectionState);
    }

    /// <summary>
    /// Hostile review, 2026-12-06: a device whose grain had gone idle was listed as never active (lastActivityTime and
    /// connectionStateUpdatedTime at their minimum) while a GET of it showed its real times.
    /// </summary>
    [Fact]
    public async Task A_device_that_went_idle_is_listed_with_the_activity_a_get_shows()
    {
        var id = NewId("listed-presence");
        var device = fixture.Device(id);
        await device.Create(Sas(id));
        var session = new DeviceSession(Guid.NewGuid(), null, null);
        Assert.Equal(DeviceAccess.Granted, await device.Connect(session));
        Assert.Equal(DeviceAccess.Granted, await device.Heartbeat());
        await device.Disconnect(session.SessionId); // a connected device keeps its activation
        await device.Cast<IGrainManagementExtension>().DeactivateOnIdle(); // writes its presence on the way out
        Assert.True(await InactiveWithinGuardAsync([id]), "the device did not deactivate before the listing");

        var listed = (await WalkDevicesAsync()).Single(d => d.DeviceId == id);
        var got = (await device.Get())!;

        Assert.NotEqual(default, got.LastActivityTime);
        Assert.Equal(got.LastActivityTime, listed.LastActivityTime);
        Assert.Equal(got.ConnectionStateUpdatedTime, listed.ConnectionStateUpdatedTime);
        Assert.Equal(got.ConnectionState, listed.ConnectionState);
    }

    private async Task<List<string>> WalkAsync() => [.. (await WalkDevicesAsync()).Select(d => d.DeviceId)];

    private async Task<List<DeviceIdentity>> WalkDevicesAsync()
    {
        var listed = new List<DeviceIdentity>();
        string? continuation = null;
        do
        {
            var page = await fixture.Registry.List(1000, continuation);
            listed.AddRange(page.Devices);
            continuation = page.Continuation;
        }
        while (continuation is not null);
        return listed;
    }

    /// <summary>Deactivation follows a grain's last answer by a moment: waits for the count itself, false after <see cref="Guard"/>.</summary>
    private async Task<bool> InactiveWithinGuardAsync(IEnumerable<string> ids)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(Guard);
        try
        {
            foreach (var id in ids)
            {
                while (await Management.GetGrainActivationCount((GrainReference)fixture.Device(id)) > 0)
                {
                    await Task.Delay(50, timeout.Token);
                }
            }
            return true;
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }
}
