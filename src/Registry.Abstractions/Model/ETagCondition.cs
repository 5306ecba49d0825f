namespace Registry.Abstractions;

/// <summary>
/// The precondition of a write, from RFC 7232 <c>If-Match</c>: any existing device (<c>*</c> or no header on
/// update/delete), or one of the listed entity tags (unquoted, without <c>W/</c>).
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

    public bool Matches(string etag) => Tags is null || Tags.Contains(etag, StringComparer.Ordinal);
}
