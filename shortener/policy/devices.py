"""What a rule may ask of the visitor's device: its class and its operating system family,
from the user agent as shortener.visits classifies it (pure)."""

from shortener.policy.user_agents import classify

DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot")

# Rule names for ua-parser's OS families (what a person picks, not what ua-parser says).
OS_FAMILIES = {
    "android": ("Android",),
    "ios": ("iOS",),
    "windows": ("Windows",),
    "macos": ("Mac OS X", "macOS"),
    "linux": ("Linux", "Ubuntu", "Fedora", "Debian", "Red Hat", "SUSE", "Arch Linux"),
    "chromeos": ("Chrome OS", "ChromeOS"),
}
OS_LABELS = {
    "android": "Android",
    "ios": "iOS / iPadOS",
    "windows": "Windows",
    "macos": "macOS",
    "linux": "Linux",
    "chromeos": "ChromeOS",
}
_FAMILY_OF = {name: key for key, names in OS_FAMILIES.items() for name in names}


def device_facts(user_agent: str) -> tuple[str, str]:
    """(device class, OS family key or "other") for a user agent."""
    _browser, system, device, _bot = classify(user_agent)
    return device, _FAMILY_OF.get(system, "other")
