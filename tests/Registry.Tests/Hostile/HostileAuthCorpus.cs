using System.Text;
using Registry.Gateway.Security;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Hostile;

/// <summary>
/// The authentication half of docs/invariants.md §7 (and §10), table-driven: every request below answers 401 IotHubUnauthorizedAccess in
/// IoT Hub's legacy shape, never a 5xx, and leaves the registry as it was. Tokens are made at run time from the
/// host's generated keys (<see cref="AuthCase.Authorization"/>), so "wrong key" and "too small a right" are real;
/// each then becomes a <see cref="HostileCase"/> sent by <see cref="HostileRequestHarness"/> (status, iothub-errorcode,
/// no 5xx, state unchanged), anonymously apart from the case's own Authorization, observed by an owner client.
/// </summary>
public sealed class HostileAuthCorpus(HostileAuthFixture registry) : IClassFixture<HostileAuthFixture>
{
    public const string Seed = HostileAuthFixture.Seed;
    public const string Off = HostileAuthFixture.Off;
    public const string New = HostileAuthFixture.New;

    /// <summary>The registry endpoints, each with a request that would change or reveal something if it were let through.</summary>
    private static readonly (string Name, HttpMethod Method, string Path, string? Body, bool IfMatch)[] Endpoints =
    [
        ("GET device", HttpMethod.Get, $"devices/{Seed}?{ApiVersion}", null, false),
        ("list", HttpMethod.Get, $"devices/?{ApiVersion}", null, false),
        ("statistics", HttpMethod.Get, $"statistics/devices?{ApiVersion}", null, false),
        ("create", HttpMethod.Put, $"devices/{New}?{ApiVersion}", $$"""{"deviceId":"{{New}}"}""", false),
        ("update", HttpMethod.Put, $"devices/{Seed}?{ApiVersion}", $$"""{"deviceId":"{{Seed}}","status":"disabled"}""", true),
        ("delete", HttpMethod.Delete, $"devices/{Seed}?{ApiVersion}", null, false),
        ("bulk", HttpMethod.Post, $"devices?{ApiVersion}", $$"""[{"id":"{{Seed}}","importMode":"delete"},{"id":"{{New}}","importMode":"create"}]""", false),
    ];

    // Declared after Endpoints: static fields initialize in text order.
    public static IReadOnlyList<AuthCase> All { get; } = Cases();

    private static readonly Dictionary<string, AuthCase> ByName = All.ToDictionary(c => c.Name);

    public static IEnumerable<TheoryDataRow<string>> Names => All.Select(c =>
        new TheoryDataRow<string>(c.Name) { TestDisplayName = $"Hostile auth request is refused with 401 and changes nothing: {c.Name}" });

    [Theory]
    [MemberData(nameof(Names))]
    public async Task Hostile_auth_request_is_refused_with_401_and_changes_nothing(string name)
    {
        using var anonymous = registry.Host.CreateAnonymousClient();
        await HostileRequestHarness.AssertRefusedAndHarmlessAsync(anonymous, registry.Owner, ByName[name].Resolve(registry), HostileAuthFixture.Watched);
    }

    [Fact]
    public void The_auth_corpus_holds_at_least_40_cases_with_distinct_names() =>
        Assert.True(All.Count >= 40 && ByName.Count == All.Count, $"{All.Count} cases, {ByName.Count} names");

    private static AuthCase On(string endpoint, string name, Func<HostileAuthFixture, string?> authorization)
    {
        var e = Endpoints.Single(x => x.Name == endpoint);
        return new AuthCase($"{endpoint}: {name}", e.Method, e.Path, e.Body, e.IfMatch, authorization);
    }

    private static AuthCase Device(string target, string name, Func<HostileAuthFixture, string?> authorization) =>
        new($"device endpoint of {target}: {name}", HttpMethod.Post, $"devices/{target}/messages/events?{ApiVersion}", "{\"beat\":1}", false, authorization);

    private static string Owner(HostileAuthFixture r) => r.Token("iothubowner");

    private static IReadOnlyList<AuthCase> Cases()
    {
        var cases = new List<AuthCase>();
        // No or unusable Authorization, on every endpoint.
        cases.AddRange(Endpoints.Select(e => On(e.Name, "no Authorization header", _ => null)));
        cases.AddRange(Endpoints.Select(e => On(e.Name, "policy too small (device)", r => r.Token("device"))));
        cases.AddRange(Endpoints.Select(e => On(e.Name, "policy too small (service)", r => r.Token("service"))));
        cases.AddRange(Endpoints.Select(e => On(e.Name, "own device token", r => r.DeviceToken(Seed))));
        cases.AddRange(Endpoints.Where(e => e.Method != HttpMethod.Get).Select(e => On(e.Name, "policy too small (registryRead)", r => r.Token("registryRead"))));
        cases.AddRange(
        [
            On("statistics", "empty Authorization", _ => ""),
            On("delete", "Bearer scheme", _ => "Bearer eyJhbGciOiJub25lIn0.e30."),
            On("delete", "Basic scheme", _ => "Basic " + Convert.ToBase64String(Encoding.ASCII.GetBytes("iothubowner:x"))),
            On("delete", "scheme alone", _ => "SharedAccessSignature"),
            On("delete", "scheme glued to the fields", r => Owner(r).Replace("SharedAccessSignature ", "SharedAccessSignature", StringComparison.Ordinal)),
            On("delete", "fields without the scheme", r => Owner(r)["SharedAccessSignature ".Length..]),
            On("delete", "missing se", r => Drop(Owner(r), "se")),
            On("delete", "missing sr", r => Drop(Owner(r), "sr")),
            On("delete", "missing sig", r => Drop(Owner(r), "sig")),
            On("delete", "non-numeric se", r => Replace(Owner(r), "se", "tomorrow")),
            On("delete", "se with a sign", r => Replace(Owner(r), "se", "+" + Field(Owner(r), "se"))),
            On("delete", "empty skn", r => Replace(Owner(r), "skn", "")),
            On("delete", "sig given twice", r => Owner(r) + "&sig=" + Field(Owner(r), "sig")),
            On("delete", "sr given twice", r => Owner(r) + "&sr=" + r.Host.HostName),
            On("delete", "skn given twice", r => Owner(r) + "&skn=registryRead"),
            On("delete", "two Authorization values, one valid", r => Owner(r) + ", SharedAccessSignature sr=x&sig=y&se=1"),
            On("delete", "token of 5000 characters", r => Owner(r) + "&pad=" + new string('A', 5000)),
            On("delete", "JSON instead of a token", _ => """{"sr":"localhost","sig":"x","se":9999999999}"""),
            // Signatures that are not the policy's.
            On("delete", "one signature character changed", r => Replace(Owner(r), "sig", Flip(Field(Owner(r), "sig")))),
            On("delete", "signature of another expiry", r => Replace(Owner(r), "se", (long.Parse(Field(Owner(r), "se")) + 1).ToString())),
            On("delete", "signature URL-encoded twice", r => Replace(Owner(r), "sig", Uri.EscapeDataString(Field(Owner(r), "sig")))),
            On("delete", "random key as iothubowner", r => r.Sign(r.Host.HostName, Convert.ToBase64String(new byte[32]), "iothubowner")),
            On("delete", "registryRead key claiming iothubowner", r => r.Sign(r.Host.HostName, r.Host.Policy("registryRead").PrimaryKey, "iothubowner")),
            On("delete", "service secondary key claiming iothubowner", r => r.Sign(r.Host.HostName, r.Host.Policy("service").SecondaryKey!, "iothubowner")),
            On("delete", "owner key under an unknown policy name", r => r.Sign(r.Host.HostName, r.Host.Policy("iothubowner").PrimaryKey, "root")),
            On("delete", "owner key under the owner name in capitals", r => r.Sign(r.Host.HostName, r.Host.Policy("iothubowner").PrimaryKey, "IOTHUBOWNER")),
            On("delete", "device key claiming iothubowner", r => r.Sign(r.Host.HostName, r.Key(Seed), "iothubowner")),
            On("delete", "sr escapes re-cased after signing", r => r.Sign($"{r.Host.HostName}/devices", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner") is var t
                ? Replace(t, "sr", Field(t, "sr").Replace("%2F", "%2f", StringComparison.Ordinal)) : null),
            // Expiry.
            On("delete", "expired 6 minutes ago", r => r.Sign(r.Host.HostName, r.Host.Policy("iothubowner").PrimaryKey, "iothubowner", TimeSpan.FromMinutes(-6))),
            On("update", "expired a day ago", r => r.Sign(r.Host.HostName, r.Host.Policy("iothubowner").PrimaryKey, "iothubowner", TimeSpan.FromDays(-1))),
            On("list", "se = 0", r => Replace(Owner(r), "se", "0")),
            // Audience.
            On("delete", "audience of another hub", r => r.Sign("otherhub.azure-devices.net", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            On("delete", "audience sharing the host name's prefix", r => r.Sign(r.Host.HostName + "x", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            On("delete", "audience of another device", r => r.Sign($"{r.Host.HostName}/devices/{New}", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            On("delete", "audience sharing the device id's prefix", r => r.Sign($"{r.Host.HostName}/devices/{Seed[..^1]}", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            On("statistics", "audience scoped to devices", r => r.Sign($"{r.Host.HostName}/devices", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            On("bulk", "audience scoped to one device", r => r.Sign($"{r.Host.HostName}/devices/{Seed}", r.Host.Policy("iothubowner").PrimaryKey, "iothubowner")),
            // Device tokens on registry endpoints, also with the secondary key.
            On("update", "own device token, secondary key", r => r.DeviceToken(Seed, primary: false)),
            // Device endpoints: the device rule.
            Device(New, "token of another, registered device", r => r.DeviceToken(Seed)),
            Device(Off, "token of another device at a disabled one", r => r.DeviceToken(Seed)),
            Device(Off, "its own token, but it is disabled", r => r.DeviceToken(Off)),
            Device(Off, "owner token, but the device is disabled", r => r.Token("iothubowner")),
            Device(Seed, "registryReadWrite token (no DeviceConnect)", r => r.Token("registryReadWrite")),
            Device(Seed, "device key with a hub-wide audience", r => r.Sign(r.Host.HostName, r.Key(Seed), null)),
            Device(Seed, "device key signing an skn token", r => r.Sign($"{r.Host.HostName}/devices/{Seed}", r.Key(Seed), "device")),
            Device(Seed, "no Authorization header", _ => null),
        ]);
        return cases;
    }

    private static string Field(string token, string name) =>
        token["SharedAccessSignature ".Length..].Split('&').Single(p => p.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];

    private static string Replace(string token, string name, string value) =>
        "SharedAccessSignature " + string.Join("&", token["SharedAccessSignature ".Length..].Split('&')
            .Select(p => p.StartsWith(name + "=", StringComparison.Ordinal) ? $"{name}={value}" : p));

    private static string Drop(string token, string name) =>
        "SharedAccessSignature " + string.Join("&", token["SharedAccessSignature ".Length..].Split('&')
            .Where(p => !p.StartsWith(name + "=", StringComparison.Ordinal)));

    private static string Flip(string sig) => (sig[0] == 'A' ? "B" : "A") + sig[1..];
}

/// <summary>One request that must be refused with 401; its Authorization is made from the running host's keys.</summary>
public sealed record AuthCase(string Name, HttpMethod Method, string PathAndQuery, string? Body, bool IfMatchAny,
    Func<HostileAuthFixture, string?> Authorization)
{
    public const string Unauthorized = "IotHubUnauthorizedAccess";

    /// <summary>The shared corpus' case, with this host's token (if any) and If-Match in its headers.</summary>
    public HostileCase Resolve(HostileAuthFixture registry)
    {
        var headers = new Dictionary<string, string>();
        if (Authorization(registry) is { } authorization)
        {
            headers["Authorization"] = authorization;
        }
        if (IfMatchAny)
        {
            headers["If-Match"] = "\"*\"";
        }
        return new HostileCase("auth", Name, Method, PathAndQuery, Body, headers, 401, Unauthorized);
    }

    public override string ToString() => Name;
}

/// <summary>
/// A secured registry seeded with an enabled SAS device, a disabled one, and an id that never exists; with the
/// test-only device endpoint of <see cref="SecuredRegistryFixture"/>.
/// </summary>
public sealed class HostileAuthFixture : IAsyncLifetime
{
    public const string Seed = "hostile-auth-seed";
    public const string Off = "hostile-auth-off";
    public const string New = "hostile-auth-new";

    public static readonly string[] Watched = [Seed, Off, New];

    private readonly SecuredRegistryFixture _registry = new();
    private readonly Dictionary<string, (string Primary, string Secondary)> _keys = [];

    public Registry.Tests.Infrastructure.RegistryTestHost Host => _registry.Host;

    public HttpClient Owner => _registry.Owner;

    public async ValueTask InitializeAsync()
    {
        await _registry.InitializeAsync();
        foreach (var (id, status) in new[] { (Seed, "enabled"), (Off, "disabled") })
        {
            var keys = (await _registry.Owner.CreateDeviceAsync(id, Json(new { deviceId = id, status })))["authentication"]!["symmetricKey"]!;
            _keys[id] = ((string)keys["primaryKey"]!, (string)keys["secondaryKey"]!);
        }
    }

    public string Key(string deviceId, bool primary = true) => primary ? _keys[deviceId].Primary : _keys[deviceId].Secondary;

    /// <summary>A policy token for the whole hub, valid an hour.</summary>
    public string Token(string policy) => Sign(Host.HostName, Host.Policy(policy).PrimaryKey, policy);

    public string DeviceToken(string deviceId, bool primary = true) => Sign($"{Host.HostName}/devices/{deviceId}", Key(deviceId, primary), null);

    public string Sign(string resource, string key, string? keyName, TimeSpan? lifetime = null) =>
        SharedAccessSignature.Create(resource, key, keyName, DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromHours(1)));

    public ValueTask DisposeAsync() => _registry.DisposeAsync();
}
