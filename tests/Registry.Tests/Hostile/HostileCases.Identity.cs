using System.Text.Json.Nodes;
using static Registry.Tests.Infrastructure.RegistryHttp;

namespace Registry.Tests.Hostile;

/// <summary>Well-formed JSON that breaks IoT Hub's identity rules (docs/wire-contract.md §4): ids, enums, keys, thumbprints, statusReason.</summary>
public static partial class HostileCases
{
    /// <summary>Path segments as they go on the wire, each decoding to an id IoT Hub forbids.</summary>
    private static readonly (string Name, string Segment)[] BadIdSegments =
    [
        ("129 characters", new string('a', 129)),
        ("200 characters", new string('b', 200)),
        ("129 allowed special characters", string.Concat(Enumerable.Repeat("-_.(", 32)) + "!"),
        ("encoded space", "hostile%20new"),
        ("encoded slash", "hostile%2Fnew"),
        ("lowercase encoded slash", "hostile%2fnew"),
        ("encoded backslash", "hostile%5Cnew"),
        ("tilde", "hostile~new"),
        ("encoded double quote", "hostile%22new"),
        ("encoded angle brackets", "hostile%3Cnew%3E"),
        ("encoded ampersand", "hostile%26new"),
        ("encoded braces", "hostile%7Bnew%7D"),
        ("encoded pipe", "hostile%7Cnew"),
        ("encoded caret", "hostile%5Enew"),
        ("encoded backtick", "hostile%60new"),
        ("encoded square brackets", "hostile%5Bnew%5D"),
        ("accented letter", "hostil%C3%A9-new"),
        ("emoji", "hostile-%F0%9F%98%80"),
        ("fullwidth letter", "hostile-%EF%BC%A1"),
        ("tab", "hostile%09new"),
        ("line feed", "hostile%0Anew"),
        ("carriage return", "hostile%0Dnew"),
        ("DEL", "hostile%7Fnew"),
        ("control character 0x01", "hostile%01new"),
        ("no-break space", "hostile%C2%A0new"),
        ("zero-width space", "hostile%E2%80%8Bnew"),
        // A regex's $ matches before a final line feed: these three once created "hostile-new\n" and a 129-character id.
        ("trailing line feed", "hostile-new%0A"),
        ("128 characters and a line feed", new string('a', 128) + "%0A"),
        ("trailing CR LF", "hostile-new%0D%0A"),
    ];

    public static IEnumerable<HostileCase> InvalidIds()
    {
        const string C = "invalid id";
        foreach (var (name, segment) in BadIdSegments)
        {
            yield return Send(C, $"create with {name}", HttpMethod.Put, $"devices/{segment}?{ApiVersion}", Invalid, body: """{"status":"enabled"}""");
        }
        foreach (var (name, segment) in BadIdSegments.Where((_, i) => i % 3 == 0))
        {
            yield return Send(C, $"get with {name}", HttpMethod.Get, $"devices/{segment}?{ApiVersion}", Invalid);
            yield return Send(C, $"delete with {name}", HttpMethod.Delete, $"devices/{segment}?{ApiVersion}", Invalid, headers: IfMatchAny);
        }
        foreach (var (name, segment) in BadIdSegments.Where((_, i) => i % 4 == 1))
        {
            yield return Send(C, $"replace with {name}", HttpMethod.Put, $"devices/{segment}?{ApiVersion}", Invalid, body: """{"status":"enabled"}""", headers: IfMatchAny);
        }
        yield return Send(C, "create with an empty id", HttpMethod.Put, $"devices/?{ApiVersion}", Invalid, body: """{"deviceId":""}""");
        yield return Send(C, "delete with an empty id", HttpMethod.Delete, $"devices/?{ApiVersion}", Invalid, headers: IfMatchAny);
        yield return Send(C, "create with a literal slash in the id", HttpMethod.Put, $"devices/hostile/new?{ApiVersion}", Invalid, body: "{}");
    }

    public static IEnumerable<HostileCase> BodyIdMismatch()
    {
        const string C = "body id differs from path id";
        yield return Create(C, "another id", """{"deviceId":"hostile-other"}""", Invalid);
        yield return Create(C, "same id in another case", """{"deviceId":"Hostile-New"}""", Invalid);
        yield return Create(C, "same id with a trailing space", """{"deviceId":"hostile-new "}""", Invalid);
        yield return Create(C, "empty id", """{"deviceId":""}""", Invalid);
        yield return Create(C, "a seeded device's id", """{"deviceId":"hostile-seed-sas"}""", Invalid);
        yield return Create(C, "a look-alike hyphen", "{\"deviceId\":\"hostile\u2010new\"}", Invalid);
        yield return Create(C, "duplicate deviceId members, the last one different", """{"deviceId":"hostile-new","deviceId":"hostile-other"}""", Invalid);
        yield return Send(C, "body holds the still-encoded path id", HttpMethod.Put, $"devices/hostile%23new?{ApiVersion}", Invalid,
            body: """{"deviceId":"hostile%23new"}""");
        yield return Replace(C, "replace a seed with another seed's id", """{"deviceId":"hostile-seed-x509","status":"disabled"}""", Invalid);
    }

    public static IEnumerable<HostileCase> UnknownEnumValues()
    {
        const string C = "unknown enum value";
        foreach (var status in new[] { "active", "Enable", "enabled ", "", "1", "enabled,disabled", "disabled\u0000" })
        {
            yield return Create(C, $"status '{Printable(status)}'", D($"\"status\":\"{Escape(status)}\""), Invalid);
        }
        yield return Replace(C, "replace with status 'blocked'", D(""" "status":"blocked" """, Seed), Invalid);
        yield return Replace(C, "replace with status '0'", D(""" "status":"0" """, Seed), Invalid);
        foreach (var type in new[] { "x509", "key", "certificate", "", "2", "sas,none", "selfsigned " })
        {
            yield return Create(C, $"authentication.type '{type}'", D($$""" "authentication":{"type":"{{type}}"} """), Invalid);
        }
        yield return Replace(C, "replace with authentication.type 'cert'", D(""" "authentication":{"type":"cert"} """, Seed), Invalid);
        yield return Create(C, "authentication.type 'x509' with valid keys", Keys(GoodKey, GoodKey, type: "x509"), Invalid);
        foreach (var mode in new[] { "upsert", "", "3", "createOrUpdateTwin", "remove", "create,delete" })
        {
            yield return Bulk(C, $"bulk importMode '{mode}'", $$"""[{"id":"hostile-new","importMode":"{{mode}}","status":"enabled"}]""", Invalid);
        }
    }

    public static IEnumerable<HostileCase> InvalidKeys()
    {
        const string C = "invalid symmetric key";
        yield return Create(C, "primary key not base64", Keys("not base64!", GoodKey), Invalid);
        yield return Create(C, "secondary key not base64", Keys(GoodKey, "%%%%"), Invalid);
        yield return Create(C, "both keys not base64", Keys("***", "***"), Invalid);
        yield return Create(C, "base64url alphabet", Keys(GoodKey.Replace('+', '-').Replace('/', '_') + "-_", GoodKey), Invalid);
        yield return Create(C, "base64 without padding", Keys(Key(17).TrimEnd('='), GoodKey), Invalid);
        yield return Create(C, "primary key of 15 bytes", Keys(Key(15), GoodKey), Invalid);
        yield return Create(C, "secondary key of 15 bytes", Keys(GoodKey, Key(15)), Invalid);
        yield return Create(C, "primary key of 65 bytes", Keys(Key(65), GoodKey), Invalid);
        yield return Create(C, "secondary key of 65 bytes", Keys(GoodKey, Key(65)), Invalid);
        yield return Create(C, "keys of 1 byte", Keys(Key(1), Key(1)), Invalid);
        yield return Create(C, "primary key of 1000 bytes", Keys(Key(1000), GoodKey), Invalid);
        yield return Create(C, "only the primary key", Keys(GoodKey, null), Invalid);
        yield return Create(C, "only the secondary key", Keys(null, GoodKey), Invalid);
        yield return Create(C, "primary key with an empty secondary", Keys(GoodKey, ""), Invalid);
        yield return Create(C, "key with an embedded NUL", Keys(GoodKey[..20] + "\u0000" + GoodKey[21..], GoodKey), Invalid);
        yield return Create(C, "key with a space inside", Keys(GoodKey[..4] + " " + GoodKey[4..], GoodKey), Invalid);
        yield return Create(C, "key with a line feed inside", Keys(GoodKey, GoodKey[..8] + "\n" + GoodKey[8..]), Invalid);
        yield return Create(C, "key with CRLF and a tab inside", Keys(GoodKey[..8] + "\r\n\t" + GoodKey[8..], GoodKey), Invalid);
        yield return Replace(C, "replace with a key with a space inside", Keys(GoodKey[..4] + " " + GoodKey[4..], GoodKey, id: Seed), Invalid);
        yield return Create(C, "keys with type selfSigned", Keys(GoodKey, GoodKey, type: "selfSigned"), Invalid);
        yield return Create(C, "keys with type certificateAuthority", Keys(GoodKey, GoodKey, type: "certificateAuthority"), Invalid);
        yield return Create(C, "keys with type none", Keys(GoodKey, GoodKey, type: "none"), Invalid);
        yield return Replace(C, "replace with keys of 15 bytes", Keys(Key(15), Key(15), id: Seed), Invalid);
        yield return Replace(C, "replace with only the primary key", Keys(GoodKey, null, id: Seed), Invalid);
    }

    public static IEnumerable<HostileCase> InvalidThumbprints()
    {
        const string C = "invalid thumbprint";
        yield return Create(C, "39 hex characters", Thumbs(Hex(39), null), Invalid);
        yield return Create(C, "41 hex characters", Thumbs(Hex(41), null), Invalid);
        yield return Create(C, "63 hex characters", Thumbs(Hex(63), null), Invalid);
        yield return Create(C, "65 hex characters", Thumbs(Hex(65), null), Invalid);
        yield return Create(C, "40 characters that are not hex", Thumbs(Hex(40, 'g'), null), Invalid);
        yield return Create(C, "colon-separated SHA-1", Thumbs(string.Join(":", Enumerable.Repeat("AB", 20)), null), Invalid);
        yield return Create(C, "0x-prefixed SHA-1", Thumbs("0x" + Hex(40), null), Invalid);
        yield return Create(C, "40 Arabic-Indic digits", Thumbs(new string('\u0663', 40), null), Invalid);
        yield return Create(C, "SHA-1 and SHA-256 lengths mixed", Thumbs(Hex(40), Hex(64)), Invalid);
        yield return Create(C, "valid primary with a bad secondary", Thumbs(Hex(64), Hex(64, 'z')), Invalid);
        yield return Create(C, "type selfSigned without thumbprints", D(""" "authentication":{"type":"selfSigned"} """), Invalid);
        yield return Create(C, "SHA-1 with a trailing line feed", Thumbs(Hex(40) + "\n", null), Invalid);
        yield return Create(C, "SHA-256 with a trailing line feed", Thumbs(null, Hex(64) + "\n"), Invalid);
        yield return Create(C, "thumbprints with type sas", Thumbs(Hex(40), Hex(40), type: "sas"), Invalid);
        yield return Replace(C, "replace the x509 seed with thumbprints and type sas", Thumbs(Hex(40), Hex(40), type: "sas", id: HostileRegistryFixture.X509Seed), Invalid,
            seed: HostileRegistryFixture.X509Seed);
        yield return Create(C, "thumbprint with type certificateAuthority", Thumbs(Hex(40), null, type: "certificateAuthority"), Invalid);
        yield return Create(C, "thumbprint with type none", Thumbs(Hex(40), Hex(40), type: "none"), Invalid);
        yield return Replace(C, "replace the x509 seed with 39 hex characters", Thumbs(Hex(39), Hex(39), id: HostileRegistryFixture.X509Seed), Invalid,
            seed: HostileRegistryFixture.X509Seed);
    }

    public static IEnumerable<HostileCase> KeysWithThumbprints()
    {
        const string C = "keys and thumbprints together";
        string Both(string? type, string id = New)
        {
            var body = JsonNode.Parse(Keys(GoodKey, GoodKey, type, id))!;
            body["authentication"]!["x509Thumbprint"] = new JsonObject { ["primaryThumbprint"] = Hex(40) };
            return body.ToJsonString();
        }
        yield return Create(C, "without a type", Both(null), Invalid);
        yield return Create(C, "with type sas", Both("sas"), Invalid);
        yield return Create(C, "with type selfSigned", Both("selfSigned"), Invalid);
        yield return Replace(C, "replace a seed with both", Both(null, Seed), Invalid);
    }

    public static IEnumerable<HostileCase> ScopeBounds()
    {
        const string C = "scope beyond IoT Hub's bounds";
        static string Scopes(int count) => string.Join(",", Enumerable.Range(0, count).Select(i => $"\"ms-azure-iot-edge://parent{i}-1\""));
        yield return Create(C, "deviceScope of 193 characters", D($"\"deviceScope\":\"{new string('s', 193)}\""), Invalid);
        yield return Create(C, "deviceScope of 250,000 characters", D($"\"deviceScope\":\"{new string('s', 250_000)}\""), Invalid);
        yield return Create(C, "deviceScope with a trailing line feed", D(""" "deviceScope":"ms-azure-iot-edge://parent-1\n" """), Invalid);
        yield return Create(C, "edge device with a deviceScope of 250,000 characters",
            D($"\"capabilities\":{{\"iotEdge\":true}},\"deviceScope\":\"{new string('s', 250_000)}\""), Invalid);
        yield return Create(C, "two parent scopes", D($"\"parentScopes\":[{Scopes(2)}]"), Invalid);
        yield return Create(C, "2,400 parent scopes", D($"\"parentScopes\":[{Scopes(2400)}]"), Invalid);
        yield return Create(C, "a parent scope of 193 characters", D($"\"parentScopes\":[\"{new string('p', 193)}\"]"), Invalid);
        yield return Replace(C, "replace a seed with a deviceScope of 250,000 characters",
            D($"\"deviceScope\":\"{new string('s', 250_000)}\"", Seed), Invalid);
        yield return Replace(C, "replace a seed with 2,400 parent scopes", D($"\"parentScopes\":[{Scopes(2400)}]", Seed), Invalid);
    }

    public static IEnumerable<HostileCase> LongStatusReasons()
    {
        const string C = "statusReason over 128 characters";
        yield return Create(C, "129 ASCII characters", D($"\"statusReason\":\"{new string('r', 129)}\""), Invalid);
        yield return Create(C, "129 accented characters", D($"\"statusReason\":\"{new string('\u00e9', 129)}\""), Invalid);
        yield return Create(C, "1000 characters", D($"\"statusReason\":\"{new string('r', 1000)}\""), Invalid);
        yield return Replace(C, "replace with 129 characters", D($"\"statusReason\":\"{new string('r', 129)}\"", Seed), Invalid);
    }

    private static string Printable(string value) => value.Replace("\u0000", "\\0", StringComparison.Ordinal);

    private static string Escape(string value) => value.Replace("\u0000", "\\u0000", StringComparison.Ordinal);
}
