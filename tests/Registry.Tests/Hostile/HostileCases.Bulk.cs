namespace Registry.Tests.Hostile;

/// <summary>
/// Bad <c>POST /devices</c> calls: whole-request refusals (count, duplicates, mistyped items) apply nothing; item
/// refusals answer 400 BulkRegistryOperationFailure, and since every item here fails, nothing is applied either.
/// </summary>
public static partial class HostileCases
{
    private static string Item(string id, string mode = "create", string extra = "") =>
        $$"""{"id":"{{id}}","importMode":"{{mode}}","status":"enabled"{{extra}}}""";

    private static string Items(params string[] items) => $"[{string.Join(",", items)}]";

    private static string Creates(int count, string prefix = "hostile-bulk") =>
        Items(Enumerable.Range(0, count).Select(i => Item($"{prefix}-{i}")).ToArray());

    public static IEnumerable<HostileCase> BulkShape()
    {
        const string C = "bulk count or duplicates";
        yield return Bulk(C, "no items", "[]", Invalid);
        yield return Bulk(C, "101 items", Creates(101), TooMany);
        yield return Bulk(C, "1000 items", Creates(1000, "b"), TooMany);
        yield return Bulk(C, "101 items deleting the seeds among them",
            Items([.. HostileRegistryFixture.SeededIds.Select(id => Item(id, "delete")), .. Enumerable.Range(0, 98).Select(i => Item($"hostile-bulk-{i}"))]), TooMany);
        yield return Bulk(C, "the same id created twice", Items(Item(New), Item(New)), Multiple);
        yield return Bulk(C, "the same id created and deleted", Items(Item(New), Item(New, "delete")), Multiple);
        yield return Bulk(C, "a seed updated and deleted", Items(Item(Seed, "update"), Item(Seed, "delete")), Multiple);
        yield return Bulk(C, "duplicate at the first and the last of 100",
            Items([Item(New), .. Enumerable.Range(0, 98).Select(i => Item($"hostile-bulk-{i}")), Item(New, "CREATE")]), Multiple);
        yield return Bulk(C, "the same id with its member name in capitals",
            Items(Item(New), """{"ID":"hostile-new","importMode":"create"}"""), Multiple);
    }

    public static IEnumerable<HostileCase> BulkItemTypes()
    {
        const string C = "bulk item of the wrong type";
        yield return Bulk(C, "item is a string", """["hostile-new"]""", Format);
        yield return Bulk(C, "item is a number", "[1]", Format);
        yield return Bulk(C, "item is an array", """[[{"id":"hostile-new","importMode":"create"}]]""", Format);
        yield return Bulk(C, "item is null", "[null]", Format);
        yield return Bulk(C, "a null item after a good one", Items(Item(New), "null"), Format);
        yield return Bulk(C, "a mistyped item after a good one", Items(Item(New), """{"id":5,"importMode":"create"}"""), Format);
        (string Member, string Value)[] members =
        [
            ("id", "42"), ("id", "{}"), ("importMode", "1"), ("importMode", "{}"), ("status", "1"), ("status", "[]"),
            ("eTag", "1"), ("etag", "{}"), ("statusReason", "{}"), ("moduleId", "1"), ("authentication", "\"sas\""),
            ("capabilities", "[]"), ("deviceScope", "false"), ("parentScopes", "\"x\""), ("parentScopes", "[2]"),
        ];
        foreach (var (member, value) in members)
        {
            // The member comes last and wins over Item's own id/importMode/status when it repeats one of them.
            yield return Bulk(C, $"{member} is {value}", Items(Item(New, extra: $",\"{member}\":{value}")), Format);
        }
        yield return Bulk(C, "symmetricKey.primaryKey is a number",
            Items(Item(New, extra: ""","authentication":{"symmetricKey":{"primaryKey":1,"secondaryKey":2}}""")), Format);
    }

    public static IEnumerable<HostileCase> BulkItemFailures()
    {
        const string C = "bulk item refused";
        yield return BulkItems(C, "create of an existing seed", Items(Item(Seed)), Exists);
        yield return BulkItems(C, "create of every seed", Items(HostileRegistryFixture.SeededIds.Select(id => Item(id)).ToArray()), Exists);
        yield return BulkItems(C, "update of a missing device", Items(Item(New, "update")), NotFound);
        yield return BulkItems(C, "delete of a missing device", Items(Item(New, "delete")), NotFound);
        yield return BulkItems(C, "updateIfMatchETag of a missing device", Items(Item(New, "updateIfMatchETag", ""","eTag":"AAAAAAAAAAAA" """)), NotFound);
        yield return BulkItems(C, "updateIfMatchETag with a stale eTag", Items(Item(Seed, "updateIfMatchETag", ""","eTag":"{staleEtag}" """)), Precondition);
        yield return BulkItems(C, "updateIfMatchETag with a stale quoted eTag", Items(Item(Seed, "updateIfMatchETag", ""","eTag":"\"{staleEtag}\"" """)), Precondition);
        yield return BulkItems(C, "updateIfMatchETag without an eTag", Items(Item(Seed, "updateIfMatchETag")), Precondition);
        yield return BulkItems(C, "deleteIfMatchETag with a stale eTag", Items(Item(Seed, "deleteIfMatchETag", ""","etag":"{staleEtag}" """)), Precondition);
        yield return BulkItems(C, "deleteIfMatchETag without an eTag", Items(Item(Seed, "deleteIfMatchETag")), Precondition);
        yield return BulkItems(C, "createOrUpdateIfMatchETag with a stale eTag", Items(Item(Seed, "createOrUpdateIfMatchETag", ""","eTag":"{staleEtag}" """)), Precondition);
        yield return BulkItems(C, "a module identity", Items(Item(New, extra: ""","moduleId":"m1" """)), Invalid);
        yield return BulkItems(C, "an empty id", Items(Item("")), Invalid);
        yield return BulkItems(C, "no id at all", """[{"importMode":"create","status":"enabled"}]""", Invalid);
        yield return BulkItems(C, "an id of 129 characters", Items(Item(new string('a', 129))), Invalid);
        yield return BulkItems(C, "an id with a slash", Items(Item("hostile/new")), Invalid);
        yield return BulkItems(C, "an id with a space", Items(Item("hostile new")), Invalid);
        yield return BulkItems(C, "an id with an accented letter", Items(Item("hostil\u00e9")), Invalid);
        yield return BulkItems(C, "an id with a trailing line feed", Items(Item("hostile-bnl\\n")), Invalid);
        yield return BulkItems(C, "an id of 128 characters and a line feed", Items(Item(new string('a', 128) + "\\n")), Invalid);
        yield return BulkItems(C, "the id .", Items(Item(".")), Invalid);
        yield return BulkItems(C, "the id ..", Items(Item("..")), Invalid);
        yield return BulkItems(C, "the ids . and .. with createOrUpdate", Items(Item(".", "createOrUpdate"), Item("..", "createOrUpdate")), Invalid);
        yield return BulkItems(C, "a thumbprint with a trailing line feed",
            Items(Item(New, extra: $$$""","authentication":{"x509Thumbprint":{"primaryThumbprint":"{{{Hex(40)}}}\n"}}""")), Invalid);
        yield return BulkItems(C, "thumbprints with type sas",
            Items(Item(New, extra: $$$""","authentication":{"type":"sas","x509Thumbprint":{"primaryThumbprint":"{{{Hex(40)}}}"}}""")), Invalid);
        yield return BulkItems(C, "a deviceScope of 200,000 characters", Items(Item(New, extra: $",\"deviceScope\":\"{new string('s', 200_000)}\"")), Invalid);
        yield return BulkItems(C, "two parent scopes", Items(Item(New, extra: ""","parentScopes":["ms-azure-iot-edge://p1-1","ms-azure-iot-edge://p2-1"]""")), Invalid);
        yield return BulkItems(C, "an unknown status", Items(Item(New, extra: ""","status":"active" """)), Invalid);
        yield return BulkItems(C, "an unknown authentication.type", Items(Item(New, extra: ""","authentication":{"type":"x509"}"""), Item("hostile-new-2", extra: ""","authentication":{"type":"key"}""")), Invalid);
        yield return BulkItems(C, "a key of 15 bytes", Items(Item(New, extra: $$$""","authentication":{"symmetricKey":{"primaryKey":"{{{Key(15)}}}","secondaryKey":"{{{GoodKey}}}"}}""")), Invalid);
        yield return BulkItems(C, "a thumbprint of 39 characters", Items(Item(New, extra: $$$""","authentication":{"x509Thumbprint":{"primaryThumbprint":"{{{Hex(39)}}}"}}""")), Invalid);
        yield return BulkItems(C, "a statusReason of 129 characters", Items(Item(New, extra: $",\"statusReason\":\"{new string('r', 129)}\"")), Invalid);
        yield return BulkItems(C, "an update of a seed with a bad key", Items(Item(Seed, "update", ""","authentication":{"symmetricKey":{"primaryKey":"***","secondaryKey":"***"}}""")), Invalid);
    }
}
