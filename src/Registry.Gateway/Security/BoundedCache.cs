using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Registry.Gateway.Security;

/// <summary>
/// A string-keyed cache whose entries carry their own expiry and whose size is capped: validated tokens and device
/// credentials must not grow memory without bound, and an entry must never outlive the time it is valid for.
/// Reads are lock-free; trimming (only when full) drops expired entries first, then arbitrary ones.
/// </summary>
internal sealed class BoundedCache<TValue>(int capacity) where TValue : class
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _trimLock = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>The value stored under <paramref name="key"/>, unless it expired at or before <paramref name="now"/>.</summary>
    public bool TryGet(string key, long now, [NotNullWhen(true)] out TValue? value)
    {
        if (_entries.TryGetValue(key, out var entry))
        {
            if (entry.ExpiresAt > now)
            {
                value = entry.Value;
                return true;
            }
            Remove(new KeyValuePair<string, Entry>(key, entry));
        }
        value = null;
        return false;
    }

    /// <summary>Stores the value until <paramref name="expiresAt"/> (same unit as <c>now</c>); nothing when capacity is 0.</summary>
    public void Set(string key, TValue value, long expiresAt, long now)
    {
        if (capacity <= 0 || expiresAt <= now)
        {
            return;
        }
        var entry = new Entry(value, expiresAt);
        while (true)
        {
            if (_entries.TryAdd(key, entry))
            {
                if (Interlocked.Increment(ref _count) > capacity)
                {
                    Trim(now);
                }
                return;
            }
            // Replace only what is still there: a key trimmed meanwhile goes back through TryAdd, so it is counted.
            if (_entries.TryGetValue(key, out var current) && _entries.TryUpdate(key, entry, current))
            {
                return;
            }
        }
    }

    private void Trim(long now)
    {
        lock (_trimLock)
        {
            if (Count <= capacity)
            {
                return;
            }
            foreach (var pair in _entries)
            {
                if (pair.Value.ExpiresAt <= now)
                {
                    Remove(pair);
                }
            }
            // Still full of live entries: drop a quarter, in the dictionary's (effectively arbitrary) order.
            var target = capacity - (capacity / 4);
            foreach (var pair in _entries)
            {
                if (Count <= target)
                {
                    break;
                }
                Remove(pair);
            }
        }
    }

    private void Remove(KeyValuePair<string, Entry> pair)
    {
        if (_entries.TryRemove(pair))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private readonly record struct Entry(TValue Value, long ExpiresAt);
}
