using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Registry.Host;
using Registry.Tests.Infrastructure;

namespace Registry.Tests.Host;

/// <summary>
/// A silo's grain directory cache is bounded by <c>Registry:DirectoryCacheSize</c>, not Orleans' 1,000,000: Orleans keeps
/// an entry after its grain deactivates, so its default held ~400 B per device a silo had ever served.
/// </summary>
public sealed class DirectoryCacheSizeTests
{
    [Fact]
    public async Task Unset_the_silo_caches_the_registry_s_bound_of_grain_addresses_not_Orleans_million()
    {
        await using var host = await RegistryTestHost.StartAsync();

        var cacheSize = host.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize;

        Assert.Equal(RegistrySettings.DefaultDirectoryCacheSize, cacheSize);
        Assert.Equal(100_000, cacheSize);
        Assert.NotEqual(new GrainDirectoryOptions().CacheSize, cacheSize);
    }

    [Theory]
    [InlineData("500", 500)]
    [InlineData("16", 16)]
    public async Task The_setting_is_the_silo_s_directory_cache_size(string configured, int expected)
    {
        await using var host = await RegistryTestHost.StartAsync(new Dictionary<string, string?> { ["Registry:DirectoryCacheSize"] = configured });

        Assert.Equal(expected, host.Services.GetRequiredService<IOptions<GrainDirectoryOptions>>().Value.CacheSize);
    }
}
