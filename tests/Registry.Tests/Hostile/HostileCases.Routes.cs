using System.Buffers.Text;
using System.Text;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Hostile;

/// <summary>Requests that are well-formed but aimed wrong: stale preconditions, absent or present devices, unknown routes, bad cursors.</summary>
public static partial class HostileCases
{
    private const string ValidBody = """{"deviceId":"hostile-seed-sas","status":"disabled","statusReason":"hostile"}""";

    public static IEnumerable<HostileCase> StaleIfMatch()
    {
        const string C = "stale if-match";
        var seed = $"devices/{Seed}?{ApiVersion}";
        HostileCase Put(string name, string ifMatch) => Send(C, $"replace with If-Match {name}", HttpMethod.Put, seed, Precondition, ValidBody, H("If-Match", ifMatch));
        HostileCase Delete(string name, string ifMatch, string id = Seed) =>
            Send(C, $"delete {id} with If-Match {name}", HttpMethod.Delete, $"devices/{id}?{ApiVersion}", Precondition, headers: H("If-Match", ifMatch));
        yield return Put("stale quoted etag", "\"{staleEtag}\"");
        yield return Put("stale unquoted etag", "{staleEtag}");
        yield return Put("stale weak etag", "W/\"{staleEtag}\"");
        yield return Put("two stale etags", "\"{staleEtag}\", \"AAAAAAAAAAAA\"");
        yield return Put("stale etag padded with spaces", "  \"{staleEtag}\"  ");
        yield return Put("made-up etag", "\"AAAAAAAAAAAA\"");
        yield return Put("empty quoted etag", "\"\"");
        yield return Put("double star", "\"**\"");
        yield return Put("unterminated quoted star", "\"*");
        // A header that names no tag is a malformed precondition, never "no header": PUT must not create, DELETE must not
        // delete unconditionally.
        yield return Put("a lone comma", ",");
        yield return Put("only empty list elements", ",,,");
        yield return Put("blank", " ");
        yield return Put("a tab", "\t");
        yield return Delete("a lone comma", ",");
        yield return Delete("only empty list elements", " , ,");
        yield return Delete("blank", " ");
        yield return Send(C, $"create of the missing {New} with If-Match a lone comma", HttpMethod.Put, $"devices/{New}?{ApiVersion}", NotFound,
            """{"deviceId":"hostile-new"}""", H("If-Match", ","));
        yield return Send(C, $"delete of the missing {New} with If-Match a lone comma", HttpMethod.Delete, $"devices/{New}?{ApiVersion}", NotFound,
            headers: H("If-Match", ","));
        yield return Send(C, "replace the x509 seed with the sas seed's stale etag", HttpMethod.Put, $"devices/{HostileRegistryFixture.X509Seed}?{ApiVersion}",
            Precondition, """{"deviceId":"hostile-seed-x509","status":"enabled"}""", H("If-Match", "\"{staleEtag}\""));
        yield return Delete("stale quoted etag", "\"{staleEtag}\"");
        yield return Delete("stale weak etag", "W/\"{staleEtag}\"");
        yield return Delete("made-up etag", "\"nope\"");
        yield return Delete("stale quoted etag", "\"{staleEtag}\"", HostileRegistryFixture.CaSeed);
    }

    public static IEnumerable<HostileCase> MissingOrExisting()
    {
        const string C = "missing or existing device";
        var missing = $"devices/{New}?{ApiVersion}";
        yield return Send(C, "get of a missing device", HttpMethod.Get, missing, NotFound);
        yield return Send(C, "replace of a missing device with If-Match *", HttpMethod.Put, missing, NotFound, """{"deviceId":"hostile-new"}""", IfMatchAny);
        yield return Send(C, "replace of a missing device with an etag", HttpMethod.Put, missing, NotFound, """{"deviceId":"hostile-new"}""", H("If-Match", "\"{staleEtag}\""));
        yield return Send(C, "delete of a missing device", HttpMethod.Delete, missing, NotFound);
        yield return Send(C, "delete of a missing device with If-Match *", HttpMethod.Delete, missing, NotFound, headers: IfMatchAny);
        yield return Send(C, "delete of a missing device with an etag", HttpMethod.Delete, missing, NotFound, headers: H("If-Match", "\"{staleEtag}\""));
        foreach (var seed in HostileRegistryFixture.SeededIds)
        {
            yield return Send(C, $"create of the existing {seed}", HttpMethod.Put, $"devices/{seed}?{ApiVersion}", Exists, $$"""{"deviceId":"{{seed}}","status":"disabled"}""");
        }
    }

    public static IEnumerable<HostileCase> UnknownRoutes()
    {
        const string C = "unknown route or method";
        var seed = $"devices/{Seed}";
        yield return Send(C, "PATCH of a device", HttpMethod.Patch, $"{seed}?{ApiVersion}", Invalid, ValidBody);
        yield return Send(C, "POST to a device", HttpMethod.Post, $"{seed}?{ApiVersion}", Invalid, ValidBody);
        yield return Send(C, "OPTIONS of a device", HttpMethod.Options, $"{seed}?{ApiVersion}", Invalid);
        yield return Send(C, "PUT to the device collection", HttpMethod.Put, $"devices?{ApiVersion}", Invalid, ValidBody);
        yield return Send(C, "PUT to the device collection with a slash", HttpMethod.Put, $"devices/?{ApiVersion}", Invalid, ValidBody, IfMatchAny);
        yield return Send(C, "DELETE of the device collection", HttpMethod.Delete, $"devices?{ApiVersion}", Invalid);
        yield return Send(C, "PATCH of the device collection", HttpMethod.Patch, $"devices?{ApiVersion}", Invalid, "[]");
        yield return Send(C, "GET below a device", HttpMethod.Get, $"{seed}/nonsense?{ApiVersion}", Invalid);
        yield return Send(C, "PUT below a device", HttpMethod.Put, $"{seed}/nonsense?{ApiVersion}", Invalid, ValidBody);
        yield return Send(C, "DELETE below a device", HttpMethod.Delete, $"{seed}/nonsense?{ApiVersion}", Invalid, headers: IfMatchAny);
        yield return Send(C, "POST below a device", HttpMethod.Post, $"{seed}/nonsense/deeper?{ApiVersion}", Invalid, "{}");
        yield return Send(C, "GET three levels below devices", HttpMethod.Get, $"devices/a/b/c?{ApiVersion}", Invalid);
        yield return Send(C, "GET of an unknown statistics", HttpMethod.Get, $"statistics/unknown?{ApiVersion}", Invalid);
        yield return Send(C, "GET below device statistics", HttpMethod.Get, $"statistics/devices/extra?{ApiVersion}", Invalid);
        yield return Send(C, "POST to device statistics", HttpMethod.Post, $"statistics/devices?{ApiVersion}", Invalid, "{}");
        yield return Send(C, "PUT to device statistics", HttpMethod.Put, $"statistics/devices?{ApiVersion}", Invalid, """{"totalDeviceCount":0}""");
        yield return Send(C, "DELETE of device statistics", HttpMethod.Delete, $"statistics/devices?{ApiVersion}", Invalid);
        yield return Send(C, "GET of the root", HttpMethod.Get, $"/?{ApiVersion}", Invalid);
        yield return Send(C, "PUT to the root", HttpMethod.Put, $"/?{ApiVersion}", Invalid, ValidBody);
        yield return Send(C, "DELETE of the root", HttpMethod.Delete, "/", Invalid, headers: IfMatchAny);
    }

    public static IEnumerable<HostileCase> PagingHeaders()
    {
        const string C = "bad paging header";
        var list = $"devices/?{ApiVersion}";
        foreach (var count in new[] { "0", "-1", "1001", "abc", "", "1.5", "+5", "99999999999" })
        {
            yield return Send(C, $"x-ms-max-item-count '{count}'", HttpMethod.Get, list, Invalid, headers: H("x-ms-max-item-count", count));
        }
        (string Name, string Token)[] tokens =
        [
            ("not a token", "not-a-token!"), ("percent signs", "%%%"), ("unknown version", Cursor("2:16:0:")),
            ("another partition count", Cursor("1:99:0:")), ("partition out of range", Cursor("1:16:16:")),
            ("negative partition", Cursor("1:16:-1:")), ("too few fields", Cursor("1:16")), ("base64 of garbage", Cursor("\u0001\u0002")),
            ("an id with a trailing line feed", Cursor("1:16:0:hostile\n")), ("an id that is not an id", Cursor("1:16:0:a/b c")),
        ];
        foreach (var (name, token) in tokens)
        {
            yield return Send(C, $"x-ms-continuation {name}", HttpMethod.Get, list, Invalid, headers: H("x-ms-continuation", token));
        }
    }

    private static string Cursor(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}
