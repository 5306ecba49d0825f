namespace Registry.Abstractions;

/// <summary>
/// The precondition of a write, from RFC 7232 <c>If-Match</c>: any existing device (<c>*</c> or no header on
/// update/delete), or one of the listed entity tags, each with or without its quotes and <c>W/</c> (as the <c>ETag</c>
/// header carries it, or as the body's <c>etag</c>).
/// </summary>
[GenerateSerializer, Immutable, Alias("registry.ETagCondition")]
public sealed record ETagCondition([property: Id(0)] IReadOnlyList<string>? Tags)
{
    /// <summary>Matches any existing device.</summary>
    public static ETagCondition Any { get; } = new((IReadOnlyList<string>?)null);

    /// <summary>Matches no device: an If-Match that names no tag.</summary>
    public static ETagCondition None { get; } = new(Array.Empty<string>());

    public static ETagCondition Of(string etag) => new([etag]);

    public bool IsAny => Tags is null;

    public bool Matches(string etag) => Tags is null || Tags.Any(tag => string.Equals(Bare(tag), etag, StringComparison.Ordinal));

    /// <summary>
    /// The tag without <c>W/</c> and its quotes: a client app handed the quoted tag (the sample prints it so) matched
    /// nothing and got PreconditionFailed (a review, 2026-12-07).
    /// </summary>
    private static string? Bare(string? tag)
    {
        var bare = tag?.Trim();
        if (bare is null)
        {
            return null;
        }
        // W/ only before a quoted tag: a bare tag (base64) may itself begin with "W/".
        if (bare.StartsWith("W/\"", StringComparison.Ordinal))
        {
            bare = bare[2..];
        }
        return bare.Length >= 2 && bare[0] == '"' && bare[^1] == '"' ? bare[1..^1] : bare;
    }
}
