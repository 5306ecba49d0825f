using System.Reflection;
using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Refuses a name under <c>Registry</c> that no setting has: the configuration binder ignores one, so a misspelt
/// <c>Registry__Heartbeat__IntervalSecond=30</c> started the registry with monitoring off and said nothing (hostile review,
/// 2026-12-07). The names are those of the settings classes the host binds the section to, matched as configuration
/// matches them (case aside); dictionary keys (policy names, throttle overrides) and list indexes (routes) are the
/// operator's own, and what is below them is checked again.
/// </summary>
internal static class UnknownSettings
{
    /// <summary>The classes bound under <c>Registry</c>, by the name of their subsection (null: the section itself).</summary>
    private static readonly (string? Section, Type Type)[] Bound =
    [
        (null, typeof(RegistrySettings)),
        (ObservabilitySettings.Section, typeof(ObservabilitySettings)),
        (OtlpSettings.Section, typeof(OtlpSettings)),
        (DashboardSettings.Section, typeof(DashboardSettings)),
        (ThrottlingOptions.Section, typeof(ThrottlingOptions)),
    ];

    /// <summary>Properties of a bound class that are bound from elsewhere (their own subsection of <c>Registry</c>), not below it.</summary>
    private static readonly HashSet<(Type, string)> BoundElsewhere =
    [
        (typeof(ObservabilitySettings), nameof(ObservabilitySettings.Otlp)),
        (typeof(ObservabilitySettings), nameof(ObservabilitySettings.Dashboard)),
    ];

    public static void Refuse(IConfigurationSection registry)
    {
        var unknown = new List<string>();
        var sections = new List<string>();
        ValueOfSection(registry, sections);
        foreach (var child in registry.GetChildren())
        {
            if (Bound.FirstOrDefault(b => string.Equals(b.Section, child.Key, StringComparison.OrdinalIgnoreCase)) is { Type: { } type })
            {
                ValueOfSection(child, sections);
                Walk(child, type, unknown, sections);
            }
            else if (Property(typeof(RegistrySettings), child.Key) is { } property)
            {
                Inspect(child, property.PropertyType, unknown, sections);
            }
            else
            {
                unknown.Add(child.Path);
            }
        }
        if (unknown.Count > 0)
        {
            throw new RegistryStartupException(
                $"Invalid configuration, nothing was started: {string.Join(", ", unknown)} {(unknown.Count == 1 ? "is not a setting" : "are not settings")} of the registry (misspelt?); the README's Configuration section lists them.");
        }
        if (sections.Count > 0)
        {
            throw new RegistryStartupException(
                $"Invalid configuration, nothing was started: {string.Join(", ", sections)} {(sections.Count == 1 ? "is a section" : "are sections")} of settings, not a value: " +
                "give its settings instead (Registry:Heartbeat:IntervalSeconds=60, not Registry:Heartbeat=60); the README's Configuration section lists them.");
        }
    }

    /// <summary>
    /// A value given to a section (<c>Registry:Heartbeat=60</c>): the binder ignores it, so the registry started with
    /// monitoring off and said nothing (a review, 2026-12-08). An empty value is what an empty JSON object leaves.
    /// </summary>
    private static void ValueOfSection(IConfigurationSection section, List<string> sections)
    {
        if (!string.IsNullOrEmpty(section.Value))
        {
            sections.Add($"{section.Path}={section.Value}");
        }
    }

    private static void Walk(IConfigurationSection section, Type type, List<string> unknown, List<string> sections)
    {
        foreach (var child in section.GetChildren())
        {
            if (Property(type, child.Key) is { } property)
            {
                Inspect(child, property.PropertyType, unknown, sections);
            }
            else
            {
                unknown.Add(child.Path);
            }
        }
    }

    /// <summary>
    /// The setting <paramref name="name"/> of <paramref name="type"/>: a property the binder sets (a public setter), or one
    /// it fills in place (a class or collection it can only get). A value the class computes (<c>StorageTimeout</c>, from
    /// <c>StorageTimeoutSeconds</c>) is no setting: the binder ignores it.
    /// </summary>
    private static PropertyInfo? Property(Type type, string name) =>
        type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is { } property
            && property.GetIndexParameters().Length == 0 && !BoundElsewhere.Contains((type, property.Name))
            && (property.SetMethod is { IsPublic: true } || !property.PropertyType.IsValueType && property.PropertyType != typeof(string))
            ? property
            : null;

    /// <summary>What is below a setting of type <paramref name="type"/>: nothing for a value, its entries for a dictionary or list, its settings for a class.</summary>
    private static void Inspect(IConfigurationSection section, Type type, List<string> unknown, List<string> sections)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var generic
            && (generic == typeof(Dictionary<,>) || generic == typeof(List<>) || generic == typeof(IReadOnlyList<>)))
        {
            ValueOfSection(section, sections);
            var element = type.GetGenericArguments()[^1];
            foreach (var entry in section.GetChildren())
            {
                Inspect(entry, element, unknown, sections);
            }
        }
        else if (type.IsClass && type != typeof(string) && type.Namespace?.StartsWith("Registry", StringComparison.Ordinal) == true)
        {
            ValueOfSection(section, sections);
            Walk(section, type, unknown, sections);
        }
        else
        {
            // A value: a name below it is no setting (Registry:IndexPartitions:Count=8).
            unknown.AddRange(section.GetChildren().Select(c => c.Path));
        }
    }

    /// <summary>
    /// The log levels under <c>Logging</c>: a value that is no level (<c>Logging:LogLevel:Default=Loud</c>) crashed the start
    /// after the new owner key was written and before the one line that shows it (a re-check, 2026-12-08).
    /// </summary>
    public static void RefuseLogLevels(IConfigurationSection logging)
    {
        var bad = Leaves(logging)
            .Where(s => (s.Path.Contains(":LogLevel:", StringComparison.OrdinalIgnoreCase) || s.Key.EndsWith("Threshold", StringComparison.OrdinalIgnoreCase))
                && !string.IsNullOrEmpty(s.Value) && !Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(s.Value, ignoreCase: true, out _))
            .Select(s => $"{s.Path}={s.Value}").ToList();
        if (bad.Count > 0)
        {
            throw new RegistryStartupException(
                $"Invalid configuration, nothing was started: {string.Join(", ", bad)} {(bad.Count == 1 ? "is not a log level" : "are not log levels")}: use Trace, Debug, Information, Warning, Error, Critical or None.");
        }
    }

    private static IEnumerable<IConfigurationSection> Leaves(IConfigurationSection section) =>
        section.GetChildren().SelectMany(c => c.GetChildren().Any() ? Leaves(c) : [c]);
}
