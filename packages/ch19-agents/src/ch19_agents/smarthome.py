"""The smart-home lab: a simulated home, its tools, a local weather service, and preferences.

:class:`Home` holds devices and their states and enforces the home's constraints (thermostat
between 10 and 30 °C, the front door cannot be unlocked without a human approval, music volume
0–100). :func:`home_toolbox` turns its methods into tools (typed functions → JSON Schema).
:class:`WeatherService` is an HTTP service on localhost that the ``get_weather`` tool calls with
``urllib``, as an external API would be called. :class:`Preferences` remembers what the user said
they like (SQLite), so "make it cosy" can become the remembered temperature.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, Literal

from ch19_agents.tools import Range, Toolbox

Room = Literal["kitchen", "bedroom", "living room", "bathroom", "office"]
ROOMS: list[str] = list(Room.__args__)  # type: ignore[attr-defined]
Door = Literal["front", "back", "garage"]


@dataclass
class Home:
    """Devices and their state; methods change state or raise ``ValueError`` on a constraint."""

    lights: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {r: {"on": False, "brightness": 100} for r in ROOMS}
    )
    thermostats: dict[str, float] = field(default_factory=lambda: {r: 20.0 for r in ROOMS})
    locks: dict[str, bool] = field(
        default_factory=lambda: {"front": True, "back": True, "garage": True}
    )
    music: dict[str, Any] = field(default_factory=lambda: {"room": None, "playlist": None})

    def snapshot(self) -> dict[str, Any]:
        return json.loads(
            json.dumps(
                {
                    "lights": self.lights,
                    "thermostats": self.thermostats,
                    "locks": self.locks,
                    "music": self.music,
                }
            )
        )


def home_toolbox(
    home: Home,
    *,
    weather_url: str | None = None,
    prefs: Preferences | None = None,
    allow: set[str] | None = None,
    approve=None,
    audit_path: Path | None = None,
) -> Toolbox:
    """The home's tools on a :class:`~ch19_agents.tools.Toolbox`."""
    box = Toolbox(allow=allow, approve=approve, audit_path=audit_path)

    @box.tool
    def set_light(
        room: Room, on: bool, brightness: Annotated[int, Range(0, 100)] = 100
    ) -> dict[str, Any]:
        """Switch the light of a room on or off.

        Args:
            room: the room
            on: true to switch on, false to switch off
            brightness: brightness in percent
        """
        home.lights[room] = {
            "on": on,
            "brightness": brightness if on else home.lights[room]["brightness"],
        }
        return {"room": room, **home.lights[room]}

    @box.tool
    def set_thermostat(
        room: Room,
        temperature: float,
        unit: Literal["celsius", "fahrenheit"] = "celsius",
    ) -> dict[str, Any]:
        """Set the target temperature of a room (10-30 degrees Celsius).

        Args:
            room: the room
            temperature: target temperature
            unit: unit of the temperature
        """
        celsius = temperature if unit == "celsius" else (temperature - 32) * 5 / 9
        if not 10 <= celsius <= 30:
            raise ValueError(f"{celsius:.1f} C is outside the allowed 10-30 C")
        home.thermostats[room] = round(celsius, 1)
        return {"room": room, "celsius": home.thermostats[room]}

    @box.tool
    def lock_door(door: Door) -> dict[str, Any]:
        """Lock a door.

        Args:
            door: which door
        """
        home.locks[door] = True
        return {"door": door, "locked": True}

    @box.tool(needs_approval=True)
    def unlock_door(door: Door) -> dict[str, Any]:
        """Unlock a door (needs a human approval).

        Args:
            door: which door
        """
        home.locks[door] = False
        return {"door": door, "locked": False}

    @box.tool
    def play_music(
        room: Room, playlist: str, volume: Annotated[int, Range(0, 100)] = 50
    ) -> dict[str, Any]:
        """Play a playlist in a room.

        Args:
            room: the room
            playlist: playlist name
            volume: volume in percent
        """
        home.music = {"room": room, "playlist": playlist, "volume": volume}
        return dict(home.music)

    @box.tool
    def get_state() -> dict[str, Any]:
        """Read the state of every device in the home."""
        return home.snapshot()

    if weather_url is not None:

        @box.tool
        def get_weather(city: str, days: Annotated[int, Range(1, 7)] = 1) -> dict[str, Any]:
            """Get the weather forecast for a city from the weather service.

            Args:
                city: city name
                days: days ahead
            """
            query = urllib.parse.urlencode({"city": city, "days": days})
            with urllib.request.urlopen(f"{weather_url}/forecast?{query}", timeout=5) as r:
                return json.loads(r.read())

    if prefs is not None:

        @box.tool
        def remember_preference(key: str, value: str) -> dict[str, str]:
            """Remember a user preference for later requests.

            Args:
                key: what the preference is about, e.g. temperature
                value: the preferred value
            """
            prefs.set(key, value)
            return {key: value}

        @box.tool
        def recall_preferences() -> dict[str, str]:
            """Read every remembered user preference."""
            return prefs.all()

    return box


class Preferences:
    """User preferences in SQLite (``:memory:`` by default): remembered across sessions."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.db = sqlite3.connect(str(path), check_same_thread=False)
        self.db.execute("CREATE TABLE IF NOT EXISTS prefs (key TEXT PRIMARY KEY, value TEXT)")

    def set(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO prefs VALUES (?, ?)", (key, value))

    def get(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM prefs WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def all(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM prefs ORDER BY key"))


# --------------------------------------------------------------------------- weather service


def forecast(city: str, days: int = 1) -> dict[str, Any]:
    """The weather service's answer: deterministic per city and day (a stand-in for an API)."""
    h = zlib.crc32(f"{city.lower()}:{days}".encode())
    return {
        "city": city,
        "days": days,
        "temperature_c": round(-5 + (h % 350) / 10, 1),
        "condition": ["sunny", "cloudy", "rain", "snow", "windy"][h % 5],
    }


class _WeatherHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path != "/forecast" or "city" not in q:
            self.send_error(404, "use /forecast?city=NAME&days=N")
            return
        body = json.dumps(forecast(q["city"][0], int(q.get("days", ["1"])[0]))).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


class WeatherService:
    """The local weather API on ``127.0.0.1`` and a free port: ``with WeatherService() as url``."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _WeatherHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
