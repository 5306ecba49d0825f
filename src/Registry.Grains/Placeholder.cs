namespace Registry.Grains; internal static class Placeholder {}
