using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Registry.Gateway.Security;
using Registry.Gateway;
using static Registry.Tests.Security.SasVectors;

namespace Registry.Tests.Security;

/// <summary>Service-endpoint decisions and the validated-token cache, on a clock the test moves.</summary>
public class SharedAccessAuthorizerTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);

    private readonly FakeTimeProvider _clock = new(Now);
    private readonly SharedAccessPolicies _policies = SharedAccessPolicies.GenerateDefaults();

    private SharedAccessAuthorizer Authorizer(int cacheSize = 1000, SharedAccessPolicies? policies = null) =>
        new(policies ?? _policies, Options.Create(new SharedAccessOptions { TokenCacheSize = cacheSize }), _clock);

    private string Token(string policy, TimeSpan? lifetime = null, string resource = "localhost", bool secondary = false)
    {
        Assert.True(_policies.TryGet(policy, out var p));
        return SharedAccessSignature.Create(resource, secondary ? p.SecondaryKey! : p.PrimaryKey, policy, Now + (lifetime ?? TimeSpan.FromHours(1)));
    }

    [Theory]
    [InlineData("iothubowner", AccessRights.RegistryRead, true)]
    [InlineData("iothubowner", AccessRights.RegistryWrite, true)]
    [InlineData("iothubowner", AccessRights.ServiceConnect, true)]
    [InlineData("registryRead", AccessRights.RegistryRead, true)]
    [InlineData("registryRead", AccessRights.RegistryWrite, false)]
    [InlineData("registryReadWrite", AccessRights.RegistryRead, true)]
    [InlineData("registryReadWrite", AccessRights.RegistryWrite, true)]
    [InlineData("registryReadWrite", AccessRights.ServiceConnect, false)]
    [InlineData("service", AccessRights.ServiceConnect, true)]
    [InlineData("service", AccessRights.RegistryRead, false)]
    [InlineData("device", AccessRights.RegistryRead, false)]
    [InlineData("device", AccessRights.ServiceConnect, false)]
    public void Default_policy_rights_decide_service_endpoints(string policy, AccessRights required, bool granted) =>
        Assert.Equal(granted, Authorizer().AuthorizeService(Token(policy), "/devices/dev1", required).IsGranted);

    [Fact]
    public void A_cached_token_of_a_policy_whose_key_was_replaced_is_refused_and_the_new_key_accepted()
    {
        var authorizer = Authorizer();
        var old = Token("registryRead");
        Assert.True(authorizer.AuthorizeService(old, "/devices", AccessRights.RegistryRead).IsGranted);
        Assert.True(_policies.TryGet("registryRead", out var read));
        var fresh = SharedAccessPolicy.Generate("registryRead", read.Rights);

        _policies.Replace([.. _policies.All.Where(p => p.KeyName != "registryRead"), fresh]);

        Assert.False(authorizer.AuthorizeService(old, "/devices", AccessRights.RegistryRead).IsGranted);
        Assert.True(authorizer.AuthorizeService(SharedAccessSignature.Create("localhost", fresh.PrimaryKey, "registryRead", Now.AddHours(1)), "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Secondary_key_is_accepted() =>
        Assert.True(Authorizer().AuthorizeService(Token("iothubowner", secondary: true), "/devices", AccessRights.RegistryRead).IsGranted);

    [Fact]
    public void Policy_without_a_secondary_key_accepts_only_the_primary()
    {
        var only = new SharedAccessPolicy("solo", PolicyKey, null, AccessRights.RegistryRead);
        var authorizer = Authorizer(policies: new SharedAccessPolicies([only]));
        var expiry = Now.AddHours(1);
        Assert.True(authorizer.AuthorizeService(SharedAccessSignature.Create("localhost", PolicyKey, "solo", expiry), "/devices", AccessRights.RegistryRead).IsGranted);
        Assert.False(authorizer.AuthorizeService(SharedAccessSignature.Create("localhost", DeviceKey, "solo", expiry), "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Key_of_another_policy_is_refused()
    {
        Assert.True(_policies.TryGet("registryRead", out var read));
        var forged = SharedAccessSignature.Create("localhost", read.PrimaryKey, "iothubowner", Now.AddHours(1));
        Assert.False(Authorizer().AuthorizeService(forged, "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Theory]
    [InlineData("IOTHUBOWNER")]
    [InlineData("nobody")]
    public void Unknown_policy_name_is_refused(string keyName)
    {
        Assert.True(_policies.TryGet("iothubowner", out var owner));
        var token = SharedAccessSignature.Create("localhost", owner.PrimaryKey, keyName, Now.AddHours(1));
        Assert.False(Authorizer().AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Device_key_token_is_refused_on_service_endpoints_without_computing_anything()
    {
        var authorizer = Authorizer();
        var token = SharedAccessSignature.Create("localhost/devices/dev1", DeviceKey, null, Now.AddHours(1));
        Assert.False(authorizer.AuthorizeService(token, "/devices/dev1", AccessRights.RegistryRead).IsGranted);
        Assert.Equal(0, authorizer.SignatureChecks);
    }

    [Fact]
    public void Audience_narrower_than_the_path_is_refused()
    {
        var authorizer = Authorizer();
        var token = Token("iothubowner", resource: "localhost/devices/dev1");
        Assert.True(authorizer.AuthorizeService(token, "/devices/dev1", AccessRights.RegistryRead).IsGranted);
        Assert.False(authorizer.AuthorizeService(token, "/devices/dev2", AccessRights.RegistryRead).IsGranted);
        Assert.False(authorizer.AuthorizeService(token, "/statistics/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Token_past_its_expiry_and_skew_is_refused_and_within_the_skew_is_accepted()
    {
        var authorizer = Authorizer();
        var expired = Token("iothubowner", lifetime: TimeSpan.FromMinutes(-6));
        var inSkew = Token("iothubowner", lifetime: TimeSpan.FromMinutes(-4));
        Assert.False(authorizer.AuthorizeService(expired, "/devices", AccessRights.RegistryRead).IsGranted);
        Assert.True(authorizer.AuthorizeService(inSkew, "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Cached_token_costs_no_hmac_on_later_requests()
    {
        var authorizer = Authorizer();
        var token = Token("registryRead");
        Assert.True(authorizer.AuthorizeService(token, "/devices/a", AccessRights.RegistryRead).IsGranted);
        var checks = authorizer.SignatureChecks;
        for (var i = 0; i < 100; i++)
        {
            Assert.True(authorizer.AuthorizeService(token, $"/devices/d{i}", AccessRights.RegistryRead).IsGranted);
        }
        Assert.Equal(checks, authorizer.SignatureChecks);
    }

    [Fact]
    public void Cached_token_is_still_checked_for_path_and_rights()
    {
        var authorizer = Authorizer();
        var token = Token("registryRead", resource: "localhost/devices");
        Assert.True(authorizer.AuthorizeService(token, "/devices/a", AccessRights.RegistryRead).IsGranted);
        Assert.False(authorizer.AuthorizeService(token, "/devices/a", AccessRights.RegistryWrite).IsGranted);
        Assert.False(authorizer.AuthorizeService(token, "/statistics/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Token_cache_does_not_accept_a_token_after_its_expiry()
    {
        var authorizer = Authorizer();
        var token = Token("iothubowner", lifetime: TimeSpan.FromMinutes(10));
        Assert.True(authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);

        _clock.Advance(TimeSpan.FromMinutes(10) + SharedAccessSignature.MaxClockSkew - TimeSpan.FromSeconds(1));
        Assert.True(authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);

        _clock.Advance(TimeSpan.FromSeconds(2));
        Assert.False(authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);
        Assert.False(authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);
    }

    [Fact]
    public void Token_cache_size_is_bounded()
    {
        var authorizer = Authorizer(cacheSize: 64);
        for (var i = 0; i < 1000; i++)
        {
            var token = Token("iothubowner", lifetime: TimeSpan.FromSeconds(3600 + i));
            Assert.True(authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryRead).IsGranted);
            Assert.InRange(authorizer.CachedTokens, 1, 64);
        }
    }

    [Fact]
    public void Refused_tokens_are_not_cached()
    {
        var authorizer = Authorizer();
        var forged = SharedAccessSignature.Create("localhost", PolicyKey, "iothubowner", Now.AddHours(1));
        for (var i = 0; i < 3; i++)
        {
            Assert.False(authorizer.AuthorizeService(forged, "/devices", AccessRights.RegistryRead).IsGranted);
        }
        Assert.Equal(0, authorizer.CachedTokens);
        Assert.Equal(6, authorizer.SignatureChecks); // primary and secondary, every time
    }

    [Fact]
    public void Refusal_reasons_never_contain_the_token_or_a_key()
    {
        var authorizer = Authorizer();
        var tokens = new[] { Token("registryRead"), Token("iothubowner", lifetime: TimeSpan.FromHours(-1)), Owner, Dev1, "garbage" };
        foreach (var token in tokens)
        {
            var reason = authorizer.AuthorizeService(token, "/devices", AccessRights.RegistryWrite).Reason;
            Assert.DoesNotContain(token, reason, StringComparison.Ordinal);
            Assert.All(_policies.All, p => Assert.DoesNotContain(p.PrimaryKey, reason, StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\n")]
    [InlineData("\r\n")]
    public void A_policy_key_with_whitespace_inside_is_refused(string whitespace)
    {
        var key = SharedAccessPolicy.Generate("solo", AccessRights.RegistryRead).PrimaryKey;
        Assert.Throws<ArgumentException>(() => new SharedAccessPolicy("solo", key[..6] + whitespace + key[6..], null, AccessRights.RegistryRead));
    }
}
