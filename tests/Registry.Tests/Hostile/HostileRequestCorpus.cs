using System.Net;
using System.Text.Json.Nodes;
using Registry.Tests.Infrastructure;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Hostile;

/// <summary>
/// docs/invariants.md §7, table-driven: every request in <see cref="HostileCases"/> answers its exact status and IoT Hub
/// error code, never a 5xx, and leaves the registry as it was. One test per case, named for it.
/// </summary>
public sealed class HostileRequestCorpus(HostileRegistryFixture registry) : IClassFixture<HostileRegistryFixture>
{
    public static IReadOnlyList<HostileCase> All { get; } = HostileCases.All();

    // Looked up by name so the theory's data is a plain string: xunit enumerates (and names) every case at discovery.
    private static readonly Dictionary<string, HostileCase> ByName =
        All.GroupBy(c => c.DisplayName).ToDictionary(g => g.Key, g => g.First());

    // Shown as: Hostile request is refused with its code and changes nothing(case: "malformed json: trailing comma")
    public static IEnumerable<TheoryDataRow<string>> Cases => All.Select(c =>
        new TheoryDataRow<string>(c.DisplayName) { TestDisplayName = "Hostile request is refused with its code and changes nothing" });

    [Theory]
    [MemberData(nameof(Cases))]
    public Task Hostile_request_is_refused_with_its_exact_code_and_changes_nothing(string @case) =>
        registry.AssertRefusedAndHarmlessAsync(ByName[@case]);

    /// <summary>
    /// Kestrel refuses a request target that decodes to NUL before any endpoint runs, so this one answers a bare 400
    /// without IoT Hub's error shape; it is kept out of the corpus for that reason, but must still change nothing.
    /// </summary>
    [Fact]
    public async Task A_NUL_in_the_device_path_is_refused_with_400_before_the_registry_and_changes_nothing()
    {
        var http = registry.Client;
        string[] watched = [.. HostileRegistryFixture.SeededIds, "hostile", "hostilenew"];
        var before = await HostileRequestHarness.SnapshotAsync(http, watched);

        using var response = await http.SendAsync(HttpMethod.Put, $"devices/hostile%00new?{RegistryHttp.ApiVersion}", "{}");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        RegistryHttp.AssertSameJson(before, await HostileRequestHarness.SnapshotAsync(http, watched));
    }

    [Fact]
    public void The_corpus_holds_at_least_170_distinct_requests_with_distinct_names()
    {
        Assert.Equal(All.Count, ByName.Count);
        var requests = All.Select(c => string.Join("\n", c.Method, c.PathAndQuery, c.Body ?? "(no body)",
            string.Join(";", (c.Headers ?? new Dictionary<string, string>()).Select(h => $"{h.Key}={h.Value}")))).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(All.Count, requests.Count);
        Assert.True(All.Count >= 170, $"{All.Count} cases");
    }

    [Fact]
    public void Every_case_expects_a_4xx_with_the_status_of_its_code()
    {
        Assert.All(All, c =>
        {
            Assert.InRange(c.ExpectedStatus, 400, 499);
            Assert.Equal(HostileCases.StatusOf[c.ExpectedErrorCode], c.ExpectedStatus);
            Assert.Equal(c.ExpectedErrorCode == HostileRequestHarness.BulkFailure, c.ItemErrorCode is not null);
        });
    }
}

/// <summary>The corpus, one category per method, split over files by topic; helpers keep each case on a line or two.</summary>
public static partial class HostileCases
{
    public const string New = HostileRegistryFixture.NewId;
    public const string Seed = HostileRegistryFixture.SasSeed;

    public const string Format = "IotHubFormatError";
    public const string Invalid = "ArgumentInvalid";
    public const string Null = "ArgumentNull";
    public const string NotFound = "DeviceNotFound";
    public const string Exists = "DeviceAlreadyExists";
    public const string Precondition = "PreconditionFailed";
    public const string Multiple = "DeviceDefinedMultipleTimes";
    public const string TooMany = "TooManyDevices";
    public const string TooLarge = "MessageTooLarge";
    public const string BulkFailure = HostileRequestHarness.BulkFailure;

    /// <summary>IoT Hub's status for each code (docs/wire-contract.md §6).</summary>
    public static readonly IReadOnlyDictionary<string, int> StatusOf = new Dictionary<string, int>
    {
        [Format] = 400, [Invalid] = 400, [Null] = 400, [Multiple] = 400, [BulkFailure] = 400,
        [NotFound] = 404, [Exists] = 409, [Precondition] = 412, [TooMany] = 413, [TooLarge] = 413,
    };

    public static IReadOnlyList<HostileCase> All() =>
    [
        .. MalformedJson(), .. WrongJsonTypes(), .. DeepJson(), .. OversizedBodies(),
        .. InvalidIds(), .. BodyIdMismatch(), .. UnknownEnumValues(),
        .. InvalidKeys(), .. InvalidThumbprints(), .. KeysWithThumbprints(), .. ScopeBounds(), .. LongStatusReasons(),
        .. BulkShape(), .. BulkItemTypes(), .. BulkItemFailures(),
        .. StaleIfMatch(), .. MissingOrExisting(), .. UnknownRoutes(), .. PagingHeaders(),
    ];

    public static IReadOnlyDictionary<string, string> H(string name, string value) => new Dictionary<string, string> { [name] = value };

    public static readonly IReadOnlyDictionary<string, string> IfMatchAny = H("If-Match", "\"*\"");

    /// <summary>PUT /devices/hostile-new without If-Match: a create.</summary>
    public static HostileCase Create(string category, string name, string? body, string code, IReadOnlyDictionary<string, string>? headers = null) =>
        new(category, name, HttpMethod.Put, $"devices/{New}?{ApiVersion}", body, headers, StatusOf[code], code);

    /// <summary>PUT /devices/{seed} with If-Match "*": a replace of a seeded device.</summary>
    public static HostileCase Replace(string category, string name, string? body, string code, string seed = Seed) =>
        new(category, name, HttpMethod.Put, $"devices/{seed}?{ApiVersion}", body, IfMatchAny, StatusOf[code], code);

    /// <summary>POST /devices with a whole-request refusal.</summary>
    public static HostileCase Bulk(string category, string name, string? body, string code, IReadOnlyDictionary<string, string>? headers = null) =>
        new(category, name, HttpMethod.Post, $"devices?{ApiVersion}", body, headers, StatusOf[code], code);

    /// <summary>POST /devices whose items all fail with <paramref name="itemCode"/>: 400 BulkRegistryOperationFailure.</summary>
    public static HostileCase BulkItems(string category, string name, string body, string itemCode) =>
        new(category, name, HttpMethod.Post, $"devices?{ApiVersion}", body, null, 400, BulkFailure) { ItemErrorCode = itemCode };

    public static HostileCase Send(string category, string name, HttpMethod method, string path, string code,
        string? body = null, IReadOnlyDictionary<string, string>? headers = null) =>
        new(category, name, method, path, body, headers, StatusOf[code], code);

    /// <summary>A device body for hostile-new with extra members, e.g. <c>D(""" "status":1 """)</c>.</summary>
    public static string D(string members, string id = New) => $$"""{"deviceId":"{{id}}",{{members}}}""";

    /// <summary>Base64 of <paramref name="bytes"/> bytes.</summary>
    public static string Key(int bytes) => Convert.ToBase64String(Enumerable.Range(1, bytes).Select(i => (byte)(i * 37)).ToArray());

    public static readonly string GoodKey = Key(32);

    /// <summary>A device body whose authentication carries the given keys (null leaves a key out).</summary>
    public static string Keys(string? primary, string? secondary, string? type = null, string id = New) =>
        Auth(id, type, new JsonObject { ["symmetricKey"] = Pair("primaryKey", primary, "secondaryKey", secondary) });

    /// <summary>A device body whose authentication carries the given thumbprints (null leaves one out).</summary>
    public static string Thumbs(string? primary, string? secondary, string? type = null, string id = New) =>
        Auth(id, type, new JsonObject { ["x509Thumbprint"] = Pair("primaryThumbprint", primary, "secondaryThumbprint", secondary) });

    public static string Hex(int length, char c = 'a') => new(c, length);

    private static string Auth(string id, string? type, JsonObject authentication)
    {
        if (type is not null)
        {
            authentication["type"] = type;
        }
        return new JsonObject { ["deviceId"] = id, ["authentication"] = authentication }.ToJsonString();
    }

    private static JsonObject Pair(string first, string? a, string second, string? b)
    {
        var pair = new JsonObject();
        if (a is not null)
        {
            pair[first] = a;
        }
        if (b is not null)
        {
            pair[second] = b;
        }
        return pair;
    }
}
