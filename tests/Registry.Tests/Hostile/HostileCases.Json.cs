namespace Registry.Tests.Hostile;

/// <summary>Bodies that are not the JSON an operation reads: malformed, mistyped, too deep, too large.</summary>
public static partial class HostileCases
{
    private const string Bom = "\uFEFF";

    public static IEnumerable<HostileCase> MalformedJson()
    {
        const string C = "malformed json";
        yield return Create(C, "truncated object", """{"deviceId":"hostile-new" """, Format);
        yield return Create(C, "truncated inside a string", """{"deviceId":"hostile-ne""", Format);
        yield return Create(C, "truncated after a colon", """{"deviceId":""", Format);
        yield return Create(C, "lone opening brace", "{", Format);
        yield return Create(C, "lone closing brace", "}", Format);
        yield return Create(C, "trailing garbage after the object", """{"deviceId":"hostile-new"} x""", Format);
        yield return Create(C, "two objects back to back", """{"deviceId":"hostile-new"}{"deviceId":"hostile-new"}""", Format);
        yield return Create(C, "trailing comma", """{"deviceId":"hostile-new",}""", Format);
        yield return Create(C, "missing comma between members", """{"deviceId":"hostile-new" "status":"enabled"}""", Format);
        yield return Create(C, "single-quoted strings", "{'deviceId':'hostile-new'}", Format);
        yield return Create(C, "unquoted member name", """{deviceId:"hostile-new"}""", Format);
        yield return Create(C, "block comment", """{/* c */"deviceId":"hostile-new"}""", Format);
        yield return Create(C, "line comment after the object", """{"deviceId":"hostile-new"} // c""", Format);
        yield return Create(C, "NaN literal", """{"deviceId":"hostile-new","cloudToDeviceMessageCount":NaN}""", Format);
        yield return Create(C, "unterminated string", """{"deviceId":"hostile-new\"}""", Format);
        yield return Create(C, "invalid escape", """{"deviceId":"hostile\q"}""", Format);
        yield return Create(C, "raw control character in a string", "{\"deviceId\":\"hostile\u0001new\"}", Format);
        yield return Create(C, "form-encoded body", "deviceId=hostile-new&status=enabled", Format);
        yield return Create(C, "XML body", """<device id="hostile-new"/>""", Format);
        yield return Create(C, "whitespace only", " \r\n\t ", Format);
        yield return Create(C, "empty body", "", Null);
        yield return Create(C, "no body at all", null, Null);
        yield return Create(C, "literal null", "null", Null);
        yield return Create(C, "BOM only (an empty body once the BOM is dropped)", Bom, Null);
        yield return Create(C, "two BOMs before the object", Bom + Bom + """{"deviceId":"hostile-new"}""", Format);
        yield return Create(C, "BOM between tokens", "{" + Bom + """ "deviceId":"hostile-new"}""", Format);
        yield return Create(C, "BOM after leading whitespace", " " + Bom + """{"deviceId":"hostile-new"}""", Format);
        yield return Create(C, "UTF-16 BOM as a character", "\uFFFE" + """{"deviceId":"hostile-new"}""", Format);
        yield return Create(C, "array where an object is expected", """[{"deviceId":"hostile-new"}]""", Format);
        yield return Create(C, "empty array where an object is expected", "[]", Format);
        yield return Create(C, "string where an object is expected", "\"hostile-new\"", Format);
        yield return Create(C, "number where an object is expected", "42", Format);
        yield return Create(C, "boolean where an object is expected", "true", Format);
        yield return Replace(C, "replace with a truncated object", """{"deviceId":"hostile-seed-sas","status":"disa""", Format);
        yield return Replace(C, "replace with an array", """[{"deviceId":"hostile-seed-sas","status":"disabled"}]""", Format);
        yield return Replace(C, "replace with an empty body", "", Null);
        yield return Bulk(C, "bulk object where an array is expected", """{"id":"hostile-new","importMode":"create"}""", Format);
        yield return Bulk(C, "bulk truncated array", """[{"id":"hostile-new","importMode":"create"}""", Format);
        yield return Bulk(C, "bulk trailing garbage after the array", """[{"id":"hostile-new","importMode":"create"}]]""", Format);
        yield return Bulk(C, "bulk empty body", "", Null);
        yield return Bulk(C, "bulk literal null", "null", Null);
        yield return Bulk(C, "bulk with a BOM between items", "[" + Bom + """{"id":"hostile-new","importMode":"create"}]""", Format);
    }

    public static IEnumerable<HostileCase> WrongJsonTypes()
    {
        const string C = "wrong json type";
        (string Field, string Value)[] fields =
        [
            ("deviceId", "42"), ("deviceId", "true"), ("deviceId", "{}"), ("deviceId", """["hostile-new"]"""),
            ("status", "1"), ("status", "true"), ("status", """{"value":"enabled"}"""), ("status", """["enabled"]"""),
            ("statusReason", "1"), ("statusReason", "{}"), ("statusReason", "[]"), ("statusReason", "false"),
            ("authentication", "\"sas\""), ("authentication", "1"), ("authentication", "[]"), ("authentication", "true"),
            ("capabilities", "\"iotEdge\""), ("capabilities", "[]"), ("capabilities", "true"), ("capabilities", "1"),
            ("deviceScope", "1"), ("deviceScope", "{}"), ("deviceScope", "[]"), ("deviceScope", "true"),
            ("parentScopes", "\"scope\""), ("parentScopes", "{}"), ("parentScopes", "1"), ("parentScopes", "[1]"),
            ("parentScopes", "[[]]"), ("parentScopes", "[{}]"), ("parentScopes", "[true]"),
        ];
        foreach (var (field, value) in fields)
        {
            // deviceId is the first member of D(...), so the mistyped one is written alone.
            var body = field == "deviceId" ? $$"""{"deviceId":{{value}}}""" : D($"\"{field}\":{value}");
            yield return Create(C, $"{field} is {value}", body, Format);
        }
        (string Path, string Value)[] nested =
        [
            ("type", "0"), ("type", "{}"), ("type", """["sas"]"""), ("type", "true"),
            ("symmetricKey", "\"key\""), ("symmetricKey", "[]"), ("symmetricKey", "1"),
            ("x509Thumbprint", "\"thumb\""), ("x509Thumbprint", "[]"), ("x509Thumbprint", "5"),
        ];
        foreach (var (member, value) in nested)
        {
            yield return Create(C, $"authentication.{member} is {value}", D($$""" "authentication":{"{{member}}":{{value}}} """), Format);
        }
        foreach (var value in new[] { "1", "{}", "[]", "true" })
        {
            yield return Create(C, $"symmetricKey.primaryKey is {value}",
                D($$$""" "authentication":{"symmetricKey":{"primaryKey":{{{value}}},"secondaryKey":"{{{GoodKey}}}"}} """), Format);
        }
        yield return Create(C, "symmetricKey.secondaryKey is 1", D($$$""" "authentication":{"symmetricKey":{"primaryKey":"{{{GoodKey}}}","secondaryKey":1}} """), Format);
        yield return Create(C, "symmetricKey.secondaryKey is {}", D(""" "authentication":{"symmetricKey":{"primaryKey":"KEY","secondaryKey":{}}} """.Replace("KEY", GoodKey)), Format);
        yield return Create(C, "x509Thumbprint.primaryThumbprint is a number", D(""" "authentication":{"x509Thumbprint":{"primaryThumbprint":1234567890}} """), Format);
        yield return Create(C, "x509Thumbprint.primaryThumbprint is {}", D(""" "authentication":{"x509Thumbprint":{"primaryThumbprint":{}}} """), Format);
        yield return Create(C, "x509Thumbprint.secondaryThumbprint is true", D(""" "authentication":{"x509Thumbprint":{"secondaryThumbprint":true}} """), Format);
        foreach (var value in new[] { "\"true\"", "1", "{}", "[]" })
        {
            yield return Create(C, $"capabilities.iotEdge is {value}", D($$""" "capabilities":{"iotEdge":{{value}}} """), Format);
        }
        yield return Replace(C, "replace with status as a number", D(""" "status":0 """, Seed), Format);
        yield return Replace(C, "replace with authentication as a string", D(""" "authentication":"sas" """, Seed), Format);
        yield return Replace(C, "replace with capabilities.iotEdge as a string", D(""" "capabilities":{"iotEdge":"false"} """, Seed), Format);
    }

    public static IEnumerable<HostileCase> DeepJson()
    {
        const string C = "json deeper than 32";
        yield return Create(C, "depth 33: 32 nested arrays in an unknown member", D($"\"x\":{Nest(32, "[", "]")}"), Format);
        yield return Create(C, "40 nested objects in an unknown member", D($"\"x\":{Nest(40, "{\"a\":", "}")}"), Format);
        yield return Create(C, "1000 nested arrays", D($"\"x\":{Nest(1000, "[", "]")}"), Format);
        yield return Create(C, "deep value under capabilities", D($$""" "capabilities":{"x":{{Nest(40, "[", "]")}}} """), Format);
        yield return Replace(C, "replace with a deep unknown member", D($"\"x\":{Nest(40, "[", "]")}", Seed), Format);
        yield return Bulk(C, "bulk body of 40 nested arrays", Nest(40, "[", "]"), Format);
        yield return Bulk(C, "bulk item with a deep unknown member", $$"""[{"id":"hostile-new","importMode":"create","x":{{Nest(40, "[", "]")}}}]""", Format);
    }

    public static IEnumerable<HostileCase> OversizedBodies()
    {
        const string C = "oversized body";
        const int limit = 256 * 1024;
        var chunked = H("Transfer-Encoding", "chunked");
        yield return Create(C, "create one byte over 256 KiB", Padded(D(""" "status":"enabled" """), limit + 1), TooLarge);
        yield return Create(C, "create of 1 MiB", Padded(D(""" "status":"enabled" """), 1024 * 1024), TooLarge);
        yield return Create(C, "create of 300 KiB sent chunked", Padded(D(""" "status":"enabled" """), 300 * 1024), TooLarge, chunked);
        yield return Create(C, "create with a 300 KiB statusReason", D($"\"statusReason\":\"{new string('r', 300 * 1024)}\""), TooLarge);
        yield return Replace(C, "replace of 300 KiB", Padded(D(""" "status":"disabled" """, Seed), 300 * 1024), TooLarge);
        var items = string.Join(",", Enumerable.Range(0, 100).Select(i => $$"""{"id":"hostile-big-{{i}}","importMode":"create","statusReason":"{{new string('r', 3000)}}"}"""));
        yield return Bulk(C, "bulk of 100 items over 256 KiB", $"[{items}]", TooLarge);
        yield return Bulk(C, "bulk over 256 KiB sent chunked", $"[{items}]", TooLarge, chunked);
    }

    private static string Nest(int depth, string open, string close) =>
        string.Concat(Enumerable.Repeat(open, depth)) + string.Concat(Enumerable.Repeat(close, depth));

    /// <summary>Valid JSON of exactly <paramref name="bytes"/> bytes: the object followed by whitespace.</summary>
    private static string Padded(string json, int bytes) => json + new string(' ', bytes - json.Length);
}
