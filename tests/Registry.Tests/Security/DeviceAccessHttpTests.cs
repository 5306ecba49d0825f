using System.Net;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Security;

/// <summary>
/// The device rule end to end: the real middleware, device grains and silo, through the real HTTPS device endpoint
/// (<c>POST /devices/{id}/messages/events</c>). A granted message is seen by the device it names: its lastActivityTime.
/// </summary>
public sealed class DeviceAccessHttpTests(SecuredRegistryFixture registry) : IClassFixture<SecuredRegistryFixture>
{
    [Fact]
    public async Task Device_token_signed_with_either_key_acts_as_its_own_device()
    {
        var (id, primary, secondary) = await registry.NewDeviceAsync("own");
        foreach (var key in new[] { primary, secondary })
        {
            using var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key));
            await AssertGrantedAsync(response, id);
        }
    }

    [Fact]
    public async Task Device_token_with_every_allowed_special_character_in_the_id_is_accepted()
    {
        var id = "sp-" + SasVectors.SpecialId;
        var device = await registry.Owner.CreateDeviceAsync(id);
        var key = (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
        using var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key));
        await AssertGrantedAsync(response, id);
    }

    [Fact]
    public async Task Device_token_cannot_act_as_another_device()
    {
        var (a, aKey, _) = await registry.NewDeviceAsync("a");
        var (b, bKey, _) = await registry.NewDeviceAsync("b");
        // A's own token on B's endpoint.
        using (var response = await registry.SendAsDeviceAsync(b, registry.DeviceToken(a, aKey)))
        {
            await SecurityAssert.UnauthorizedAsync(response, "A's token at B");
        }
        // A token that names A but is signed with B's key, at B's endpoint: sr must name the device it acts as.
        using (var response = await registry.SendAsDeviceAsync(b, registry.DeviceToken(a, bKey)))
        {
            await SecurityAssert.UnauthorizedAsync(response, "sr names A, B's key");
        }
        // A hub-wide sr signed with a device key grants nothing.
        using (var response = await registry.SendAsDeviceAsync(a, registry.DeviceToken(a, aKey, resource: registry.Host.HostName)))
        {
            await SecurityAssert.UnauthorizedAsync(response, "sr = HostName with a device key");
        }
    }

    [Fact]
    public async Task Device_ids_in_sr_compare_exactly_while_host_and_path_compare_case_insensitively()
    {
        var (id, key, _) = await registry.NewDeviceAsync("Case");
        using (var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key, $"{registry.Host.HostName.ToUpperInvariant()}/DEVICES/{id}")))
        {
            await AssertGrantedAsync(response, id);
        }
        using (var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key, $"{registry.Host.HostName}/devices/{id.ToLowerInvariant()}")))
        {
            await SecurityAssert.UnauthorizedAsync(response, "id in another case is another device");
        }
    }

    [Fact]
    public async Task Device_token_within_the_clock_skew_is_accepted_and_beyond_it_refused()
    {
        var (id, key, _) = await registry.NewDeviceAsync("skew");
        var now = registry.Clock.GetUtcNow();
        var resource = $"{registry.Host.HostName}/devices/{id}";
        using (var response = await registry.SendAsDeviceAsync(id, SharedAccessSignature.Create(resource, key, null, now.AddMinutes(-4))))
        {
            await AssertGrantedAsync(response, id);
        }
        using (var response = await registry.SendAsDeviceAsync(id, SharedAccessSignature.Create(resource, key, null, now.AddMinutes(-6))))
        {
            await SecurityAssert.UnauthorizedAsync(response, "expired beyond skew");
        }
    }

    [Theory]
    [InlineData("device", true)]
    [InlineData("iothubowner", true)]
    [InlineData("registryReadWrite", false)]
    [InlineData("registryRead", false)]
    [InlineData("service", false)]
    public async Task Policy_token_acts_as_a_device_only_with_DeviceConnect(string policy, bool granted)
    {
        var (id, _, _) = await registry.NewDeviceAsync("pol");
        foreach (var resource in new[] { $"{registry.Host.HostName}/devices/{id}", registry.Host.HostName })
        {
            using var response = await registry.SendAsDeviceAsync(id, registry.PolicyToken(policy, resource));
            if (granted)
            {
                await AssertGrantedAsync(response, id);
            }
            else
            {
                await SecurityAssert.UnauthorizedAsync(response, $"{policy} {resource}");
            }
        }
    }

    [Fact]
    public async Task Policy_token_scoped_to_one_device_cannot_act_as_another()
    {
        var (a, _, _) = await registry.NewDeviceAsync("pa");
        var (b, _, _) = await registry.NewDeviceAsync("pb");
        using var response = await registry.SendAsDeviceAsync(b, registry.PolicyToken("device", $"{registry.Host.HostName}/devices/{a}"));
        await SecurityAssert.UnauthorizedAsync(response);
    }

    [Fact]
    public async Task Disabled_device_is_refused_whoever_signed()
    {
        var id = $"off-{Guid.NewGuid():N}"[..16];
        var device = await registry.Owner.CreateDeviceAsync(id, Json(new { deviceId = id, status = "disabled" }));
        var key = (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
        foreach (var token in new[] { registry.DeviceToken(id, key), registry.PolicyToken("device", $"{registry.Host.HostName}/devices/{id}"), registry.PolicyToken("iothubowner") })
        {
            using var response = await registry.SendAsDeviceAsync(id, token);
            await SecurityAssert.UnauthorizedAsync(response, token[..40]);
        }
    }

    [Fact]
    public async Task Disabling_a_device_refuses_its_cached_token_within_the_device_cache_duration()
    {
        var (id, key, _) = await registry.NewDeviceAsync("dis");
        var token = registry.DeviceToken(id, key);
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await AssertGrantedAsync(response, id);
        }
        await registry.UpdateDeviceAsync(id, new { deviceId = id, status = "disabled" });
        registry.Clock.Advance(registry.DeviceCacheDuration + TimeSpan.FromSeconds(1));
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await SecurityAssert.UnauthorizedAsync(response, "disabled");
        }
        await registry.UpdateDeviceAsync(id, new { deviceId = id, status = "enabled" });
        registry.Clock.Advance(registry.DeviceCacheDuration + TimeSpan.FromSeconds(1));
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await AssertGrantedAsync(response, id);
        }
    }

    [Fact]
    public async Task Changing_a_device_key_ends_tokens_signed_with_the_old_one()
    {
        var (id, oldKey, secondary) = await registry.NewDeviceAsync("rot");
        var oldToken = registry.DeviceToken(id, oldKey);
        using (var response = await registry.SendAsDeviceAsync(id, oldToken))
        {
            await AssertGrantedAsync(response, id);
        }
        var newKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await registry.UpdateDeviceAsync(id, new
        {
            deviceId = id,
            authentication = new { type = "sas", symmetricKey = new { primaryKey = newKey, secondaryKey = secondary } },
        });
        registry.Clock.Advance(registry.DeviceCacheDuration + TimeSpan.FromSeconds(1));
        using (var response = await registry.SendAsDeviceAsync(id, oldToken))
        {
            await SecurityAssert.UnauthorizedAsync(response, "old key");
        }
        using (var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, newKey)))
        {
            await AssertGrantedAsync(response, id);
        }
    }

    /// <summary>
    /// Hostile review, stop 31: a device tried while it did not exist, then created, was refused for the whole cache
    /// period (10 s); so was a device deleted and created again with other keys. A refusal is decided again on a fresh
    /// read once the cached one is <see cref="DeviceCredentialCache.RefusalRecheck"/> old, and no sooner.
    /// </summary>
    [Fact]
    public async Task A_device_created_or_created_again_after_a_refusal_is_served_once_the_cached_answer_is_a_second_old()
    {
        var id = $"late-{Guid.NewGuid():N}"[..18];
        using (var early = await registry.SendAsDeviceAsync(id, registry.PolicyToken("device")))
        {
            await SecurityAssert.UnauthorizedAsync(early, "not yet registered");
        }
        var device = await registry.Owner.CreateDeviceAsync(id);
        var key = (string)device["authentication"]!["symmetricKey"]!["primaryKey"]!;
        using (var young = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key)))
        {
            await SecurityAssert.UnauthorizedAsync(young, "the cached refusal is younger than a second: no grain call");
        }
        registry.Clock.Advance(DeviceCredentialCache.RefusalRecheck);
        using (var created = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, key)))
        {
            await AssertGrantedAsync(created, id);
        }

        using (var deleted = await registry.Owner.DeleteDeviceAsync(id))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
        var again = await registry.Owner.CreateDeviceAsync(id); // new generated keys
        var newKey = (string)again["authentication"]!["symmetricKey"]!["primaryKey"]!;
        registry.Clock.Advance(DeviceCredentialCache.RefusalRecheck);
        using (var recreated = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, newKey)))
        {
            await AssertGrantedAsync(recreated, id);
        }
    }

    [Fact]
    public async Task Unregistered_device_is_refused()
    {
        var id = $"ghost-{Guid.NewGuid():N}"[..18];
        foreach (var token in new[] { registry.DeviceToken(id, SasVectors.DeviceKey), registry.PolicyToken("device") })
        {
            using var response = await registry.SendAsDeviceAsync(id, token);
            await SecurityAssert.UnauthorizedAsync(response);
        }
    }

    [Fact]
    public async Task Device_without_symmetric_keys_cannot_sign_device_tokens()
    {
        var id = $"x509-{Guid.NewGuid():N}"[..17];
        await registry.Owner.CreateDeviceAsync(id, Json(new
        {
            deviceId = id,
            authentication = new { x509Thumbprint = new { primaryThumbprint = new string('a', 40), secondaryThumbprint = new string('b', 40) } },
        }));
        using var response = await registry.SendAsDeviceAsync(id, registry.DeviceToken(id, SasVectors.DeviceKey));
        await SecurityAssert.UnauthorizedAsync(response);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("SharedAccessSignature sr=localhost&sig=AAAA&se=99999999999")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task Device_endpoint_without_a_usable_token_is_refused(string? authorization)
    {
        var (id, _, _) = await registry.NewDeviceAsync("anon");
        using var response = await registry.SendAsDeviceAsync(id, authorization);
        await SecurityAssert.UnauthorizedAsync(response);
    }

    [Fact]
    public async Task Device_token_with_an_skn_is_checked_as_a_policy_token()
    {
        var (id, key, _) = await registry.NewDeviceAsync("skn");
        var token = SharedAccessSignature.Create($"{registry.Host.HostName}/devices/{id}", key, "device", DateTimeOffset.UtcNow.AddHours(1));
        using var response = await registry.SendAsDeviceAsync(id, token);
        await SecurityAssert.UnauthorizedAsync(response);
    }

    [Fact]
    public async Task Disabling_a_device_refuses_its_next_message_at_once_whatever_the_credential_cache_holds()
    {
        var (id, key, _) = await registry.NewDeviceAsync("now-off");
        var token = registry.DeviceToken(id, key);
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await AssertGrantedAsync(response, id);
        }

        await registry.UpdateDeviceAsync(id, new { deviceId = id, status = "disabled" });

        // No clock advance: the gateway's credential cache still holds the enabled device; the device grain refuses.
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await SecurityAssert.UnauthorizedAsync(response, "disabled, cache still warm");
        }
    }

    [Fact]
    public async Task Changing_a_device_key_refuses_the_old_key_at_once_whatever_the_credential_cache_holds()
    {
        var (id, oldKey, secondary) = await registry.NewDeviceAsync("now-rot");
        var oldToken = registry.DeviceToken(id, oldKey);
        using (var response = await registry.SendAsDeviceAsync(id, oldToken))
        {
            await AssertGrantedAsync(response, id);
        }
        var before = await registry.Owner.GetDeviceJsonAsync(id);

        await registry.UpdateDeviceAsync(id, new
        {
            deviceId = id,
            authentication = new { type = "sas", symmetricKey = new { primaryKey = Convert.ToBase64String(new byte[32]), secondaryKey = secondary } },
        });

        using (var response = await registry.SendAsDeviceAsync(id, oldToken))
        {
            await SecurityAssert.UnauthorizedAsync(response, "old key, cache still warm");
        }
        Assert.Equal((string?)before["lastActivityTime"], (string?)(await registry.Owner.GetDeviceJsonAsync(id))["lastActivityTime"]);
    }

    [Fact]
    public async Task Deleting_a_device_refuses_its_next_message_at_once_whatever_the_credential_cache_holds()
    {
        var (id, key, _) = await registry.NewDeviceAsync("now-del");
        var token = registry.DeviceToken(id, key);
        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await AssertGrantedAsync(response, id);
        }

        using (var deleted = await registry.Owner.DeleteDeviceAsync(id))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        using (var response = await registry.SendAsDeviceAsync(id, token))
        {
            await SecurityAssert.UnauthorizedAsync(response, "deleted, cache still warm");
        }
    }

    /// <summary>204, and the device named in the path recorded the message at the registry's (controlled) now.</summary>
    private async Task AssertGrantedAsync(HttpResponseMessage response, string deviceId)
    {
        Assert.True(response.StatusCode == HttpStatusCode.NoContent, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var device = await registry.Owner.GetDeviceJsonAsync(deviceId);
        Assert.Equal(registry.Clock.GetUtcNow().UtcDateTime,
            DateTime.Parse((string)device["lastActivityTime"]!, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal));
        // The next grant must record a later time, or it would prove nothing.
        registry.Clock.Advance(TimeSpan.FromMilliseconds(1));
    }
}
