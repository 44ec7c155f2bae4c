"""The ward console: a web page of every patient's latest state and open alerts, with acknowledge."""

from streams.exports import public

__all__, __getattr__ = public(
    __name__,
    {
        "web": (
            "SUBSCRIBER_QUEUE",
            "ConsoleHub",
            "ConsoleWeb",
            "aiohttp_app",
            "build",
            "console_web",
            "insecure_from_env",
        ),
        "view": ("ConsoleView", "bands_from_reasons"),
    },
)
