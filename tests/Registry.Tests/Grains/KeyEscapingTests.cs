using Registry.Grains.Storage;

namespace Registry.Tests.Grains;

/// <summary>The storage key mapping keeps ids distinct that Orleans' Azure Table provider would fold into one row.</summary>
public sealed class KeyEscapingTests
{
    [Fact]
    public void Ids_differing_only_in_table_forbidden_characters_map_to_distinct_keys()
    {
        string[] ids = ["a#b", "a?b", "a_b", "a/b", "a\\b", "a~23b", "a~b", "a%23b"];
        var keys = ids.Select(KeyEscapingGrainStorage.EscapeKey).ToArray();

        Assert.Equal(ids.Length, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.All(keys, k => Assert.True(k.AsSpan().IndexOfAny("/\\#?") < 0, k));
    }

    [Fact]
    public void Keys_without_special_characters_are_unchanged()
    {
        const string id = "plain-device:1.2+x";
        Assert.Same(id, KeyEscapingGrainStorage.EscapeKey(id));
    }
}
