using Registry.Gateway.Throttling;

namespace Registry.Host;

/// <summary>
/// Settings that belong to the gateway's parts (throttles, pinned access policies), checked with the other settings
/// before anything is written: built later, their mistakes surfaced after the policy file, the certificates and the
/// owner connection string were already written, and as a stack trace rather than one line.
/// </summary>
internal static class StartChecks
{
    public static void Validate(IConfigurationSection registry, RegistrySettings settings)
    {
        var throttling = RegistrySettings.Bind<ThrottlingOptions>(registry.GetSection(ThrottlingOptions.Section));
        var problems = new List<string>(throttling.Problems());
        // The binder also takes an enum's number ("0", "6"); a tier is named, as the README lists them.
        if (registry.GetSection(ThrottlingOptions.Section)["Tier"] is { } tier && Enum.IsDefined(throttling.Tier)
            && !Enum.GetNames<HubTier>().Contains(tier.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            problems.Add($"Registry:Throttling:Tier '{tier}' is not one of {string.Join(", ", Enum.GetNames<HubTier>())}.");
        }
        foreach (var (name, policy) in settings.AccessPolicies)
        {
            try
            {
                policy.ToPolicy(name);
            }
            catch (ArgumentException e)
            {
                problems.Add($"Registry:AccessPolicies:{name} is not usable: {e.Message}");
            }
        }
        if (problems.Count > 0)
        {
            throw new RegistryStartupException($"Invalid configuration, nothing was started: {string.Join(" ", problems)}");
        }
        ObservabilitySettings.Bind(registry).Validate(settings.ServesEdge);
    }
}
