using System.Reflection;
using Registry.Abstractions;
using Registry.Gateway.Mqtt;
using Registry.Grains.Devices;

namespace Registry.Tests.Grains;

/// <summary>
/// The rule for everything Orleans serializes: <c>[GenerateSerializer]</c> and an <c>[Alias]</c> on the type, an
/// <c>[Id]</c> on each serialized member. A missing one fails only at run time (or silently names the type on the wire
/// by its CLR name, which a rename breaks), so it is checked here over every type the grain interfaces carry.
/// </summary>
public sealed class WireContractTests
{
    private static readonly Assembly[] Ours = [typeof(IDeviceGrain).Assembly, typeof(DeviceGrain).Assembly, typeof(MqttDeviceEdge).Assembly];

    [Fact]
    public void Every_registry_type_a_grain_interface_carries_has_GenerateSerializer_and_an_alias()
    {
        var carried = new HashSet<Type>();
        foreach (var method in Ours.SelectMany(a => a.GetTypes())
                     .Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t))
                     .SelectMany(t => t.GetMethods()))
        {
            Collect(method.ReturnType, carried);
            foreach (var parameter in method.GetParameters())
            {
                Collect(parameter.ParameterType, carried);
            }
        }

        Assert.Contains(typeof(DeviceAccess), carried); // the walk reaches enums returned by grain calls
        Assert.Contains(typeof(DeviceStatus), carried); // and enums inside serialized records
        var missing = carried
            .Where(t => t.GetCustomAttribute<GenerateSerializerAttribute>() is null || t.GetCustomAttribute<AliasAttribute>() is null)
            .Select(t => t.FullName)
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(missing.Count == 0, "Without [GenerateSerializer] or [Alias]: " + string.Join(", ", missing));
    }

    [Fact]
    public void Aliases_are_unique_and_in_the_registry_namespace()
    {
        var aliases = Ours.SelectMany(a => a.GetTypes())
            .Select(t => (Type: t, Alias: t.GetCustomAttribute<AliasAttribute>()?.Alias))
            .Where(x => x.Alias is not null && x.Type.GetCustomAttribute<GenerateSerializerAttribute>() is not null)
            .ToList();

        Assert.NotEmpty(aliases);
        Assert.All(aliases, x => Assert.StartsWith("registry.", x.Alias));
        Assert.Empty(aliases.GroupBy(x => x.Alias).Where(g => g.Count() > 1).Select(g => g.Key));
    }

    /// <summary>Our types reachable from <paramref name="type"/>: generic arguments, array elements, and serialized members.</summary>
    private static void Collect(Type type, HashSet<Type> carried)
    {
        if (type.IsGenericParameter)
        {
            return;
        }
        if (type.HasElementType)
        {
            Collect(type.GetElementType()!, carried);
            return;
        }
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Collect(argument, carried);
            }
            if (!Ours.Contains(type.Assembly))
            {
                return;
            }
            type = type.GetGenericTypeDefinition();
        }
        if (!Ours.Contains(type.Assembly) || typeof(IAddressable).IsAssignableFrom(type) || !carried.Add(type))
        {
            return; // framework types have their own codecs; grain and observer references are references
        }
        const BindingFlags members = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        foreach (var member in type.GetFields(members).Cast<MemberInfo>().Concat(type.GetProperties(members))
                     .Where(m => m.GetCustomAttribute<IdAttribute>() is not null))
        {
            Collect(member is FieldInfo field ? field.FieldType : ((PropertyInfo)member).PropertyType, carried);
        }
        if (type.BaseType is { } baseType && Ours.Contains(baseType.Assembly))
        {
            Collect(baseType, carried);
        }
    }
}
