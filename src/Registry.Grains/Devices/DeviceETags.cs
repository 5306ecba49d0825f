namespace Registry.Grains.Devices;

/// <summary>
/// Mints device ETags (random, <see cref="Credentials.NewETag"/>). A silo service rather than a static call so a test can
/// mint the rare random tag (about 1 in 4,096) that begins with <c>W/</c> and must still match as itself.
/// </summary>
public class DeviceETags
{
    public virtual string Next() => Credentials.NewETag();
}
