using Registry.Abstractions;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.DeviceInputs;

namespace Registry.Tests.Grains;

/// <summary>The device grain's rules, each on a real two-silo cluster.</summary>
public sealed class DeviceGrainTests(RegistryClusterFixture fixture) : IClassFixture<RegistryClusterFixture>
{
    /// <summary>Hostile review, 2026-12-07: a client started without the event streams got "Stream provider 'registry-events' not found".</summary>
    [Fact]
    public void A_client_without_the_event_streams_is_told_to_start_with_them_when_it_subscribes()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => Registry.Client.RegistryEventSubscription.StreamsOf(fixture.Cluster.Client, RegistryEventSources.DeviceLifecycle));

        Assert.Contains("RegistryClientOptions.Events", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Create_generates_two_32_byte_keys_a_generation_id_and_an_etag()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));

        Assert.Equal(id, created.DeviceId);
        Assert.Equal(AuthenticationType.Sas, created.Authentication.Type);
        Assert.Equal(32, Convert.FromBase64String(created.Authentication.SymmetricKey!.PrimaryKey!).Length);
        Assert.Equal(32, Convert.FromBase64String(created.Authentication.SymmetricKey!.SecondaryKey!).Length);
        Assert.NotEqual(created.Authentication.SymmetricKey.PrimaryKey, created.Authentication.SymmetricKey.SecondaryKey);
        Assert.Matches("^[0-9]{18}$", created.GenerationId);
        Assert.False(string.IsNullOrEmpty(created.ETag));
        Assert.Equal(created, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Create_keeps_keys_that_are_given()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(WithKeys(id, Key16, Key64));
        Assert.Equal(new SymmetricKey(Key16, Key64), created.Authentication.SymmetricKey);
    }

    [Fact]
    public async Task Create_of_an_existing_device_answers_DeviceAlreadyExists_and_changes_nothing()
    {
        var id = NewId();
        var first = await fixture.Device(id).Create(Sas(id));

        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Create(Sas(id, DeviceStatus.Disabled)));

        Assert.Equal(RegistryErrorCode.DeviceAlreadyExists, error.Code);
        Assert.Equal(first, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Get_of_a_missing_device_returns_null()
    {
        Assert.Null(await fixture.Device(NewId()).Get());
    }

    [Fact]
    public async Task Ids_differing_only_in_case_are_two_devices()
    {
        var lower = NewId("case");
        var upper = lower.ToUpperInvariant();
        var a = await fixture.Device(lower).Create(Sas(lower));
        var b = await fixture.Device(upper).Create(Sas(upper, DeviceStatus.Disabled));

        Assert.NotEqual(a.GenerationId, b.GenerationId);
        Assert.Equal(DeviceStatus.Enabled, (await fixture.Device(lower).Get())!.Status);
        Assert.Equal(DeviceStatus.Disabled, (await fixture.Device(upper).Get())!.Status);
    }

    [Fact]
    public async Task A_recreated_device_gets_a_new_generation_id_and_etag()
    {
        var id = NewId();
        var first = await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Delete(ETagCondition.Any);
        var second = await fixture.Device(id).Create(Sas(id));

        Assert.NotEqual(first.GenerationId, second.GenerationId);
        Assert.NotEqual(first.ETag, second.ETag);
    }

    [Fact]
    public async Task Update_with_matching_etag_replaces_and_issues_a_new_etag_keeping_the_generation_id()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));

        var updated = await fixture.Device(id).Update(Sas(id) with { StatusReason = "maintenance" }, ETagCondition.Of(created.ETag));

        Assert.Equal("maintenance", updated.StatusReason);
        Assert.NotEqual(created.ETag, updated.ETag);
        Assert.Equal(created.GenerationId, updated.GenerationId);
        Assert.Equal(updated, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Update_with_stale_etag_answers_PreconditionFailed_and_changes_nothing()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var current = await fixture.Device(id).Update(Sas(id) with { StatusReason = "one" }, ETagCondition.Any);

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            fixture.Device(id).Update(Sas(id, DeviceStatus.Disabled) with { StatusReason = "two" }, ETagCondition.Of(created.ETag)));

        Assert.Equal(RegistryErrorCode.PreconditionFailed, error.Code);
        Assert.Equal(current, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Update_with_the_wildcard_replaces_any_existing_device()
    {
        var id = NewId();
        await fixture.Device(id).Create(Sas(id));
        var updated = await fixture.Device(id).Update(Sas(id, DeviceStatus.Disabled), ETagCondition.Any);
        Assert.Equal(DeviceStatus.Disabled, updated.Status);
    }

    [Fact]
    public async Task Update_with_a_list_of_etags_matches_any_of_them()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var updated = await fixture.Device(id).Update(Sas(id), new ETagCondition(["nope", created.ETag]));
        Assert.NotEqual(created.ETag, updated.ETag);
    }

    [Fact]
    public async Task Update_of_a_missing_device_answers_DeviceNotFound_and_creates_nothing()
    {
        var id = NewId();
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Update(Sas(id), ETagCondition.Any));
        Assert.Equal(RegistryErrorCode.DeviceNotFound, error.Code);
        Assert.Null(await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Update_without_keys_keeps_the_existing_keys()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var updated = await fixture.Device(id).Update(Sas(id), ETagCondition.Any);
        Assert.Equal(created.Authentication.SymmetricKey, updated.Authentication.SymmetricKey);
    }

    [Fact]
    public async Task Status_change_sets_status_updated_time_and_other_updates_keep_it()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var sameStatus = await fixture.Device(id).Update(Sas(id) with { StatusReason = "x" }, ETagCondition.Any);
        Assert.Equal(created.StatusUpdatedTime, sameStatus.StatusUpdatedTime);

        var disabled = await fixture.Device(id).Update(Sas(id, DeviceStatus.Disabled), ETagCondition.Any);
        Assert.True(disabled.StatusUpdatedTime > created.StatusUpdatedTime);
    }

    [Fact]
    public async Task Delete_removes_the_device()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        await fixture.Device(id).Delete(ETagCondition.Of(created.ETag));
        Assert.Null(await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Delete_with_stale_etag_answers_PreconditionFailed_and_keeps_the_device()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));
        var current = await fixture.Device(id).Update(Sas(id), ETagCondition.Any);

        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Delete(ETagCondition.Of(created.ETag)));

        Assert.Equal(RegistryErrorCode.PreconditionFailed, error.Code);
        Assert.Equal(current, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Delete_of_a_missing_device_answers_DeviceNotFound()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(NewId()).Delete(ETagCondition.Any));
        Assert.Equal(RegistryErrorCode.DeviceNotFound, error.Code);
    }

    [Fact]
    public async Task Thumbprints_are_stored_as_sent_under_selfSigned()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(WithThumbprints(id, Sha1.ToUpperInvariant(), Sha1));
        Assert.Equal(AuthenticationType.SelfSigned, created.Authentication.Type);
        Assert.Null(created.Authentication.SymmetricKey);
        Assert.Equal(Sha1.ToUpperInvariant(), created.Authentication.X509Thumbprint!.PrimaryThumbprint);
    }

    [Fact]
    public async Task Certificate_authority_devices_carry_no_credentials()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(new DeviceIdentityInput
        {
            DeviceId = id,
            Authentication = new AuthenticationMechanism(AuthenticationType.CertificateAuthority, null, null),
        });
        Assert.Equal(new AuthenticationMechanism(AuthenticationType.CertificateAuthority, null, null), created.Authentication);
    }

    [Fact]
    public async Task Body_id_different_from_the_grain_key_is_refused()
    {
        var id = NewId();
        var error = await Assert.ThrowsAsync<RegistryException>(() => fixture.Device(id).Create(Sas(id + "x")));
        Assert.Equal(RegistryErrorCode.ArgumentInvalid, error.Code);
        Assert.Null(await fixture.Device(id).Get());
    }

    [Fact]
    public async Task Thirty_two_concurrent_updates_from_one_etag_let_exactly_one_through()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(Sas(id));

        var attempts = await Task.WhenAll(Enumerable.Range(0, 32).Select(async i =>
        {
            try
            {
                await fixture.Device(id).Update(Sas(id) with { StatusReason = $"writer {i}" }, ETagCondition.Of(created.ETag));
                return true;
            }
            catch (RegistryException ex) when (ex.Code == RegistryErrorCode.PreconditionFailed)
            {
                return false;
            }
        }));

        Assert.Equal(1, attempts.Count(ok => ok));
        var winner = Array.IndexOf(attempts, true);
        Assert.Equal($"writer {winner}", (await fixture.Device(id).Get())!.StatusReason);
    }

    [Fact]
    public async Task Update_without_authentication_keeps_x509_credentials()
    {
        var id = NewId();
        var created = await fixture.Device(id).Create(WithThumbprints(id, Sha1, Sha1));
        var updated = await fixture.Device(id).Update(Sas(id) with { StatusReason = "note" }, ETagCondition.Any);
        Assert.Equal(created.Authentication, updated.Authentication);
    }

    [Fact]
    public async Task Edge_devices_get_a_generated_device_scope_that_updates_cannot_change()
    {
        var id = NewId("edge");
        var created = await fixture.Device(id).Create(Sas(id) with { Capabilities = new DeviceCapabilities(true), DeviceScope = "caller-chosen" });
        Assert.Equal($"ms-azure-iot-edge://{id}-{created.GenerationId}", created.DeviceScope);

        var updated = await fixture.Device(id).Update(Sas(id) with { Capabilities = new DeviceCapabilities(true), DeviceScope = "other" }, ETagCondition.Any);
        Assert.Equal(created.DeviceScope, updated.DeviceScope);
    }

    [Fact]
    public async Task An_edge_device_that_stops_being_edge_loses_its_own_scope_even_when_the_body_sends_it_back()
    {
        var id = NewId("edge");
        var created = await fixture.Device(id).Create(Sas(id) with { Capabilities = new DeviceCapabilities(true) });

        // What an SDK sends after reading the device and clearing iotEdge: the scope it read comes back.
        var updated = await fixture.Device(id).Update(
            Sas(id) with { Capabilities = new DeviceCapabilities(false), DeviceScope = created.DeviceScope }, ETagCondition.Any);

        Assert.False(updated.Capabilities.IotEdge);
        Assert.Null(updated.DeviceScope);
        Assert.Equal(updated, await fixture.Device(id).Get());
    }

    [Fact]
    public async Task An_edge_device_that_becomes_a_leaf_may_take_a_parent_scope_in_the_same_update()
    {
        var id = NewId("edge");
        await fixture.Device(id).Create(Sas(id) with { Capabilities = new DeviceCapabilities(true) });

        var updated = await fixture.Device(id).Update(
            Sas(id) with { Capabilities = new DeviceCapabilities(false), DeviceScope = "ms-azure-iot-edge://parent-1" }, ETagCondition.Any);

        Assert.Equal("ms-azure-iot-edge://parent-1", updated.DeviceScope);
    }

    [Fact]
    public async Task An_edge_device_made_edge_again_gets_its_own_scope_back()
    {
        var id = NewId("edge");
        var created = await fixture.Device(id).Create(Sas(id) with { Capabilities = new DeviceCapabilities(true) });
        await fixture.Device(id).Update(Sas(id) with { Capabilities = new DeviceCapabilities(false) }, ETagCondition.Any);

        var again = await fixture.Device(id).Update(Sas(id) with { Capabilities = new DeviceCapabilities(true) }, ETagCondition.Any);

        Assert.Equal(created.DeviceScope, again.DeviceScope);
    }

    [Fact]
    public async Task Leaf_devices_keep_the_device_scope_they_are_given()
    {
        var id = NewId("leaf");
        var created = await fixture.Device(id).Create(Sas(id) with { DeviceScope = "ms-azure-iot-edge://parent-1" });
        Assert.Equal("ms-azure-iot-edge://parent-1", created.DeviceScope);
    }
}
