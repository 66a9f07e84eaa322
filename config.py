"""Configuration read from environment variables, each with a safe default for `make run`.

`ENELINK_ENV=development` (set by `make run`) relaxes what only makes sense in production:
the secret key may be generated, cookies are not `Secure`, and mail without an SMTP server
goes to the dev mailbox page. Anything else is production: a real `SECRET_KEY` of at least
32 bytes is required.
"""
from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def normalize_database_url(url: str) -> str:
    """`postgresql://…` and `postgres://…`, the forms hosts and guides give, would load
    psycopg2, which is not installed: they use the installed psycopg 3 driver instead.
    A URL naming its driver (`postgresql+psycopg://`, `sqlite://`) is kept as it is."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def default_trusted_hosts(public_host: str) -> list[str]:
    """The hosts the app answers to when TRUSTED_HOSTS is unset: the host of
    PUBLIC_HOST (with any port: Werkzeug ignores ports when it compares), `localhost`,
    and `127.0.0.1` for a health check made on the machine itself (Werkzeug cannot match
    an IPv6 literal such as `[::1]`)."""
    host = public_host.strip()
    if re.search(r":\d*$", host) and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    return list(dict.fromkeys(h for h in (host, "localhost", "127.0.0.1") if h))


class Config:
    """Settings for development and production, all overridable from the environment."""

    ENV_NAME = _env("ENELINK_ENV", "production")
    DEVELOPMENT = ENV_NAME == "development"

    SECRET_KEY = _env("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = normalize_database_url(_env(
        "DATABASE_URL", "sqlite:///" + str(BASE_DIR / "instance" / "enelink.sqlite3")
    ))
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    # SQLite: how long a request waits for the database's write lock (SQLite retries
    # meanwhile) before it is answered 503 「混み合っています」 instead of failing.
    DATABASE_BUSY_TIMEOUT_SECONDS = float(_env("DATABASE_BUSY_TIMEOUT_SECONDS", "15") or 15)

    # Mail. Without MAIL_SERVER in development, mail lands in the dev mailbox page.
    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = _env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = _env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = _env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = _env("MAIL_DEFAULT_SENDER", "Enelink <no-reply@enelink.example>")
    MAIL_TIMEOUT_SECONDS = _env_int("MAIL_TIMEOUT_SECONDS", 10)
    MAIL_MAX_ATTEMPTS = _env_int("MAIL_MAX_ATTEMPTS", 12)
    MAIL_RELAY_IN_PROCESS = _env_bool("MAIL_RELAY_IN_PROCESS", DEVELOPMENT)
    MAIL_RELAY_POLL_SECONDS = float(_env("MAIL_RELAY_POLL_SECONDS", "1.0") or 1.0)
    DEV_MAILBOX = DEVELOPMENT and MAIL_SERVER is None

    # Links in mail are built from this host only, never from the request's Host header.
    SERVER_NAME = _env("SERVER_NAME")
    PREFERRED_URL_SCHEME = _env("PREFERRED_URL_SCHEME", "http" if DEVELOPMENT else "https")
    PUBLIC_HOST = _env("PUBLIC_HOST", SERVER_NAME or "127.0.0.1:5000")
    # Hosts the app answers to (any other Host header gets 400); unset: the host of
    # PUBLIC_HOST plus localhost and 127.0.0.1 (see default_trusted_hosts).
    TRUSTED_HOSTS = [h.strip() for h in (_env("TRUSTED_HOSTS", "") or "").split(",")
                     if h.strip()] or None
    # Reverse proxies in front of the app: their X-Forwarded-For and X-Forwarded-Proto
    # are believed (the client address for rate limits and audit rows). 0: none, the
    # socket's address is the client's.
    TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)

    # Rate limits (Flask-Limiter): Redis when REDIS_URL is set, memory otherwise.
    RATELIMIT_STORAGE_URI = _env("REDIS_URL", "memory://")
    # Explicit: Flask-Limiter keeps a previous app's setting when the key is absent.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_HEADERS_ENABLED = True
    # Sign-in: only failed attempts count, per client address and per client address +
    # e-mail; a client past either limit gets 429 for every e-mail, known or not. No
    # account is ever locked, so the owner's right password from elsewhere still works.
    LOGIN_FAILURE_LIMIT_PER_ADDRESS = _env("LOGIN_FAILURE_LIMIT_PER_ADDRESS",
                                           "10 per minute; 50 per hour")
    LOGIN_FAILURE_LIMIT_PER_ACCOUNT = _env("LOGIN_FAILURE_LIMIT_PER_ACCOUNT",
                                           "5 per 15 minutes")
    # Wrong slip passwords (registration, adding or exchanging a gateway): a client
    # address, and a signed-in account, may fail this many times within the window;
    # then their checks are refused until older failures leave the window. Only
    # failures count, and never per gateway: the holder of the right slip always
    # gets through from their own address and account.
    SLIP_FAILURES_PER_ADDRESS = _env_int("SLIP_FAILURES_PER_ADDRESS", 10)
    SLIP_FAILURES_PER_ACCOUNT = _env_int("SLIP_FAILURES_PER_ACCOUNT", 10)
    SLIP_FAILURE_WINDOW_MINUTES = _env_int("SLIP_FAILURE_WINDOW_MINUTES", 60)

    # Request limits per client address (Flask-Limiter syntax), on top of the failure
    # limits above: password checks of a signed-in account (password change, deletion,
    # employee changes), endpoints that send mail, dealer links by 販売店ID + phone, the
    # phone check of a provisional registration link.
    PASSWORD_CHECK_LIMIT = _env("PASSWORD_CHECK_LIMIT", "10 per minute; 50 per hour")
    MAIL_SENDING_LIMIT = _env("MAIL_SENDING_LIMIT", "5 per minute; 30 per hour")
    DEALER_LINK_LIMIT = _env("DEALER_LINK_LIMIT", "10 per minute; 60 per hour")
    REGISTRATION_PHONE_CHECK_LIMIT = _env("REGISTRATION_PHONE_CHECK_LIMIT",
                                          "10 per minute; 60 per hour")

    # Sessions and cookies.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = not DEVELOPMENT
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = not DEVELOPMENT
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    SESSION_LIFETIME = timedelta(hours=12)
    PERMANENT_SESSION_LIFETIME = timedelta(days=30)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    BABEL_DEFAULT_LOCALE = "ja"
    BABEL_DEFAULT_TIMEZONE = "Asia/Tokyo"
    LANGUAGES = ("ja", "en")

    # White label: operator details shown in pages and mails.
    SITE_NAME = _env("SITE_NAME", "Enelink")
    OPERATOR_NAME = _env("OPERATOR_NAME", "Enelink運営事務局")
    SUPPORT_PHONE = _env("SUPPORT_PHONE", "0120-000-000")
    SUPPORT_HOURS = _env("SUPPORT_HOURS", "平日 9:00〜17:30")
    SUPPORT_EMAIL = _env("SUPPORT_EMAIL", "support@enelink.example")

    # Link lifetimes (SPEC "Links sent by mail").
    ACTIVATION_LINK_TTL = timedelta(hours=24)
    PASSWORD_RESET_LINK_TTL = timedelta(hours=1)
    INVITATION_LINK_TTL = timedelta(days=7)
    # The provisional registration of monitoring: the date shown in the mail.
    MONITORING_REGISTRATION_LINK_TTL = timedelta(
        days=_env_int("MONITORING_REGISTRATION_LINK_DAYS", 7))

    # Mail a company can make the site send: invitations per company account over the
    # last 24 hours (counted from the stored invitations, so across processes too).
    INVITATIONS_PER_DAY = _env_int("INVITATIONS_PER_DAY", 20)
    # A sign-up with the address of an existing ID mails its owner at most this often.
    ACCOUNT_EXISTS_MAIL_INTERVAL = timedelta(hours=1)

    # The owners club. The dealer sign-up's 仮登録 link (seed 003: 1 hour).
    DEALER_SIGNUP_LINK_TTL = timedelta(hours=1)
    # Login permissions: the dealer's approval link stays valid until decided (and is
    # decided once); an owner may have at most this many permissions waiting for a dealer.
    CLUB_APPROVAL_LINK_TTL = timedelta(days=3650)
    CLUB_PENDING_PERMISSIONS_MAX = _env_int("CLUB_PENDING_PERMISSIONS_MAX", 5)
    # A dealer's proxy login (代理ログイン) ends by itself after this long.
    PROXY_SESSION_MINUTES = _env_int("PROXY_SESSION_MINUTES", 30)
    # A product registered within this many months of its 設置日/運転開始日 gets its
    # model's extension_years on top of the standard warranty.
    WARRANTY_EXTENSION_MONTHS = _env_int("WARRANTY_EXTENSION_MONTHS", 6)
    # The system-model catalogue as first seeded (staff edit it at /staff/gateways/models).
    # `code` is the model printed on a gateway's slip.
    SYSTEM_MODELS = (
        dict(code="GW-M001", name="ハイブリッド蓄電システム 7.4kWh", storage_kwh=7.4,
             eco_eligible=True, warranty_years=10, extension_years=5,
             manual_url="https://enelink.example/manuals/GW-M001.pdf"),
        dict(code="GW-M002", name="トライブリッド蓄電システム 14.9kWh", storage_kwh=14.9,
             eco_eligible=True, warranty_years=15, extension_years=5,
             manual_url="https://enelink.example/manuals/GW-M002.pdf"),
        dict(code="GW-M003", name="単機能蓄電システム 4.9kWh", storage_kwh=4.9,
             eco_eligible=False, warranty_years=10, extension_years=0,
             manual_url="https://enelink.example/manuals/GW-M003.pdf"),
    )

    # -- eco programme (みんなでつくるエコ活) ------------------------------------------
    # A gateway is online for the programme with a reading within this many hours, and
    # may join within this many years of its 運転開始日 (the application date counts).
    ECO_ONLINE_HOURS = _env_int("ECO_ONLINE_HOURS", 24)
    ECO_OPERATION_YEARS = _env_int("ECO_OPERATION_YEARS", 2)
    # Wrong ゲートウェイID + PCS製造番号 pairs at the points sign-up's STEP3 count with
    # the slip failures (SLIP_FAILURES_*), per client address and per account.
    # >>> eco
    # Who answers questions about the programme (seed 001-46), shown on the eco pages and
    # in its mails, and the page describing the programme (【参考情報】 of the mails).
    ECO_CONTACT_NAME = _env("ECO_CONTACT_NAME", "みんなでつくるエコ活サークル お問い合わせ相談窓口")
    ECO_CONTACT_PHONE = _env("ECO_CONTACT_PHONE", "0120-000-825")
    ECO_CONTACT_HOURS = _env("ECO_CONTACT_HOURS", "平日 9:00〜17:00（土日祝、当社休日を除く）")
    ECO_INFO_URL = _env("ECO_INFO_URL", "https://enelink.example/eco/")
    # <<< eco

    # -- points service -------------------------------------------------------------
    # The mail-first sign-up's link (【会員登録URLのお知らせ】).
    POINTS_SIGNUP_LINK_TTL = timedelta(hours=_env_int("POINTS_SIGNUP_LINK_HOURS", 24))
    # Monthly accrual: points = floor(self-consumed kWh of the month × POINTS_PER_KWH).
    POINTS_PER_KWH = _env("POINTS_PER_KWH", "1.0")
    # What points can be exchanged for (code, name, points).
    POINTS_EXCHANGE_ITEMS = (
        dict(code="GIFT500", name="デジタルギフト 500円分", points=500),
        dict(code="GIFT1000", name="デジタルギフト 1,000円分", points=1000),
        dict(code="GIFT3000", name="デジタルギフト 3,000円分", points=3000),
    )

    # -- support center ---------------------------------------------------------------
    # Attachments: at most this many per submission (seed 000: 10), each at most
    # SUPPORT_FILE_MAX_BYTES, all of a case's files together at most SUPPORT_CASE_MAX_BYTES.
    SUPPORT_FILES_PER_POST = _env_int("SUPPORT_FILES_PER_POST", 10)
    SUPPORT_FILE_MAX_BYTES = _env_int("SUPPORT_FILE_MAX_BYTES", 10 * 1024 * 1024)
    SUPPORT_CASE_MAX_BYTES = _env_int("SUPPORT_CASE_MAX_BYTES", 50 * 1024 * 1024)
    # Where files are kept: "db" (the database; every web machine can serve them) or
    # "fs" (SUPPORT_FILE_DIR, which must then be shared by every web machine).
    SUPPORT_FILE_STORE = _env("SUPPORT_FILE_STORE", "db")
    SUPPORT_FILE_DIR = _env("SUPPORT_FILE_DIR", str(BASE_DIR / "instance" / "support-files"))
    # 機器タイプ of the case form.
    SUPPORT_DEVICE_TYPES = ("ゲートウェイ", "パワーコンディショナ", "蓄電池", "太陽光パネル",
                            "分電盤・計測ユニット", "モニター・アプリ", "その他")
    # サポート内容 and its 詳細 as first seeded (staff edit them at /staff/support/categories).
    SUPPORT_CATEGORIES = (
        ("故障・エラー", ("エラー表示・警告", "運転停止", "異音・異臭・発熱", "その他の故障")),
        ("モニタリング・通信", ("データが表示されない", "通信途絶", "ゲートウェイの設定", "アプリ・画面の操作")),
        ("蓄電池の動作", ("充電・放電しない", "運転モード・設定", "停電時の動作")),
        ("機器の交換・修理", ("機器の交換依頼", "修理・点検の依頼", "保証の確認")),
        ("手続き・その他", ("登録情報の変更", "エコ活・ポイント", "その他のお問い合わせ")),
    )
    # Phone support (seed 000 注意事項): requested by SUPPORT_PHONE_CUTOFF (Japan time)
    # at least SUPPORT_PHONE_LEAD_DAYS business days before the slot; slots on business
    # days between SUPPORT_PHONE_OPENS and SUPPORT_PHONE_CLOSES (the last slot starts
    # SUPPORT_PHONE_SLOT_MINUTES before closing). Weekends, Japanese public holidays and
    # SUPPORT_CLOSED_DAYS ("MM-DD", the year-end closing) are not business days.
    SUPPORT_PHONE_CUTOFF = _env("SUPPORT_PHONE_CUTOFF", "16:00")
    SUPPORT_PHONE_LEAD_DAYS = _env_int("SUPPORT_PHONE_LEAD_DAYS", 2)
    SUPPORT_PHONE_OPENS = _env("SUPPORT_PHONE_OPENS", "09:00")
    SUPPORT_PHONE_CLOSES = _env("SUPPORT_PHONE_CLOSES", "17:30")
    SUPPORT_PHONE_SLOT_MINUTES = _env_int("SUPPORT_PHONE_SLOT_MINUTES", 30)
    SUPPORT_PHONE_BOOKING_DAYS = _env_int("SUPPORT_PHONE_BOOKING_DAYS", 20)
    SUPPORT_CLOSED_DAYS = tuple(
        day.strip() for day in (_env("SUPPORT_CLOSED_DAYS",
                                     "12-29,12-30,12-31,01-01,01-02,01-03") or "").split(",")
        if day.strip())
    # Device unlock codes (PUK) a linked dealer may ask for: valid this long, once.
    SUPPORT_UNLOCK_CODE_TTL = timedelta(hours=_env_int("SUPPORT_UNLOCK_CODE_HOURS", 24))
    SUPPORT_UNLOCK_CODES_PER_DAY = _env_int("SUPPORT_UNLOCK_CODES_PER_DAY", 20)
    # The knowledge-base search box: requests per client address.
    SUPPORT_SEARCH_LIMIT = _env("SUPPORT_SEARCH_LIMIT", "60 per minute; 600 per hour")
    # The largest body of a request that carries files (a case form or a reply with its
    # attachments); every other request stays at 2 MB. A reverse proxy in front must allow
    # at least this much (nginx: client_max_body_size 52m); above it the app answers 413.
    SUPPORT_UPLOAD_MAX_BYTES = _env_int("SUPPORT_UPLOAD_MAX_BYTES", 52 * 1024 * 1024)

    # -- trust controls ---------------------------------------------------------------
    # Two-step sign-in: the name authenticator apps show, codes accepted ±1 step of 30 s,
    # 10 one-time recovery codes. Wrong second-step codes are counted per client address
    # and per account (the one who holds the password controls them), in SECOND_STEP_WINDOW
    # minutes; a pending sign-in ends after SECOND_STEP_PENDING_MINUTES.
    TOTP_ISSUER = _env("TOTP_ISSUER", "Enelink")
    TOTP_VALID_WINDOW = _env_int("TOTP_VALID_WINDOW", 1)
    RECOVERY_CODE_COUNT = 10
    SECOND_STEP_FAILURES_PER_ADDRESS = _env_int("SECOND_STEP_FAILURES_PER_ADDRESS", 20)
    SECOND_STEP_FAILURES_PER_ACCOUNT = _env_int("SECOND_STEP_FAILURES_PER_ACCOUNT", 10)
    SECOND_STEP_WINDOW_MINUTES = _env_int("SECOND_STEP_WINDOW_MINUTES", 15)
    SECOND_STEP_PENDING_MINUTES = _env_int("SECOND_STEP_PENDING_MINUTES", 10)
    # Passkeys (WebAuthn): the relying party is the public host (without its port).
    WEBAUTHN_RP_NAME = _env("WEBAUTHN_RP_NAME", "Enelink")
    # ログイン中の端末: a session's last use is written at most this often; the place of a
    # client address is looked up only when a local MaxMind-format database is given.
    SESSION_SEEN_INTERVAL = timedelta(minutes=_env_int("SESSION_SEEN_MINUTES", 5))
    GEOIP_DATABASE = _env("GEOIP_DATABASE")
    KNOWN_BROWSER_COOKIE = "enelink_browser"
    KNOWN_BROWSER_COOKIE_DAYS = 400
    # E-mail change: the new address confirms within 24 h; the old one may undo for 7 days.
    EMAIL_CHANGE_LINK_TTL = timedelta(hours=_env_int("EMAIL_CHANGE_LINK_HOURS", 24))
    EMAIL_CHANGE_UNDO_TTL = timedelta(days=_env_int("EMAIL_CHANGE_UNDO_DAYS", 7))
    # 個人データのダウンロード: the archive is offered by a mailed link this long.
    DATA_EXPORT_LINK_TTL = timedelta(hours=_env_int("DATA_EXPORT_LINK_HOURS", 24))
    DATA_EXPORTS_PER_DAY = _env_int("DATA_EXPORTS_PER_DAY", 3)
    # Extra alert recipients of a gateway (family members), each confirmed by a link.
    ALERT_RECIPIENTS_MAX = _env_int("ALERT_RECIPIENTS_MAX", 3)
    ALERT_RECIPIENT_LINK_TTL = timedelta(hours=_env_int("ALERT_RECIPIENT_LINK_HOURS", 72))

    SEED_DEMO_DATA = _env_bool("SEED_DEMO_DATA", False)

    # Monitoring: a gateway without a reading for this long is 通信途絶 (and alerted);
    # the watch checks that every GATEWAY_WATCH_SECONDS, in-process under `make run`.
    GATEWAY_SILENCE_MINUTES = _env_int("GATEWAY_SILENCE_MINUTES", 30)
    GATEWAY_WATCH_SECONDS = _env_int("GATEWAY_WATCH_SECONDS", 60)
    GATEWAY_WATCH_IN_PROCESS = _env_bool("GATEWAY_WATCH_IN_PROCESS", DEVELOPMENT)
    # Development: simulated readings for the demo gateways, live, in-process.
    GATEWAY_SIMULATOR_IN_PROCESS = _env_bool("GATEWAY_SIMULATOR_IN_PROCESS", DEVELOPMENT)
    # How often an open monitoring page asks for the current values.
    MONITOR_REFRESH_SECONDS = _env_int("MONITOR_REFRESH_SECONDS", 60)
    # Gateway API: requests per gateway (readings arrive every 5 minutes, in batches);
    # only requests with the gateway's right key count.
    GATEWAY_API_LIMIT = _env("GATEWAY_API_LIMIT", "60 per minute; 600 per hour")
    # Failed API keys per client address: enough for a misconfigured device to be seen in
    # the logs, too few to matter for guessing a 256-bit key. Only failures count.
    GATEWAY_API_FAILED_AUTH_LIMIT = _env("GATEWAY_API_FAILED_AUTH_LIMIT",
                                         "20 per minute; 200 per hour")
    # >>> remote
    # Remote settings of the storage system (遠隔設定): a saved version not acknowledged by
    # the gateway within this many minutes is 反映されていません and alerted like silence.
    SETTINGS_ACK_TIMEOUT_MINUTES = _env_int("SETTINGS_ACK_TIMEOUT_MINUTES", 30)
    # The factory defaults (version 1 of every gateway): 環境優先, charging all day (start ==
    # end), down to 10 %, no selling from the battery, automatic islanding.
    SETTINGS_DEFAULTS = {"operation_mode": "green", "charge_start": 0, "charge_end": 0,
                         "discharge_floor": 10, "sell_when_discharging": False,
                         "islanding": "auto"}
    SETTINGS_HISTORY_PER_PAGE = _env_int("SETTINGS_HISTORY_PER_PAGE", 10)
    # <<< remote
    # >>> legacy
    # The old portal's one-time migration step: how long after the old password was
    # verified its pages stay open in that browser (then sign in again).
    LEGACY_STEP_MINUTES = _env_int("LEGACY_STEP_MINUTES", 30)
    # `flask accounts import`: rows per transaction (bounded memory for big files).
    LEGACY_IMPORT_BATCH = _env_int("LEGACY_IMPORT_BATCH", 500)
    # <<< legacy
    # >>> join
    # 会社の検索 (sign-up step 3, and 会社情報 of a commercial account without a company):
    # searches per client address, counted whichever of the two pages they come from.
    COMPANY_SEARCH_LIMIT = _env("COMPANY_SEARCH_LIMIT", "20 per minute; 200 per hour")
    # At most this many companies per search; more → 「絞り込んでください」.
    COMPANY_SEARCH_MAX_RESULTS = _env_int("COMPANY_SEARCH_MAX_RESULTS", 20)
    # <<< join
    # >>> help
    # Help where people get stuck: the FAQ files (help/faq/<service>.toml), which the
    # operator edits; HELP_DIR points to another folder of the same layout.
    HELP_DIR = _env("HELP_DIR", str(BASE_DIR / "help"))
    # 「メールアドレスを忘れた場合」: requests per client address.
    FORGOT_EMAIL_LIMIT = _env("FORGOT_EMAIL_LIMIT", "5 per minute; 20 per hour")
    # White label: the campaign text of STEP1 and of the printed slip (none by default),
    # and the contact for registration questions printed on the slip (default: the
    # operator's support contact).
    CAMPAIGN_TEXT = _env("CAMPAIGN_TEXT", "") or None
    REGISTRATION_CONTACT = _env("REGISTRATION_CONTACT", "") or None
    # <<< help
    # >>> fleet
    # <<< fleet
    # >>> console
    # <<< console
    # >>> ingest
    # Raw readings are kept this long (the daily and monthly energy for good): older ones
    # are refused by the API and removed by `flask --app app gateways prune`, which
    # deletes READINGS_PRUNE_BATCH rows per transaction, at most READINGS_PRUNE_MAX_BATCHES
    # per run (PostgreSQL drops whole months first).
    READINGS_RETENTION_DAYS = _env_int("READINGS_RETENTION_DAYS", 400)
    READINGS_PRUNE_BATCH = _env_int("READINGS_PRUNE_BATCH", 5000)
    READINGS_PRUNE_MAX_BATCHES = _env_int("READINGS_PRUNE_MAX_BATCHES", 1000)
    # <<< ingest
    # >>> pages
    # monitoring: how many drawn things each worker keeps for the monitoring page, per
    # kind (a day's points, a chart with its table, the chart section's and the status
    # line's HTML; about 100 KB for a full day's); 0 keeps none
    MONITOR_CACHE_SIZE = _env_int("MONITOR_CACHE_SIZE", 64)
    # <<< pages
    # >>> static
    # Compression (Flask-Compress) of dynamic responses of these types, brotli or gzip as
    # the browser prefers. Never text/html (BREACH: see the README's security section),
    # never a streamed download (its chunks would wait in the compressor), never a body
    # under COMPRESS_MIN_SIZE bytes (it fits in one packet anyway). Static files are
    # compressed once per process instead (blueprints/core/assets.py).
    COMPRESS_MIMETYPES = ["text/css", "text/javascript", "application/javascript",
                          "application/json", "text/csv"]
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_STREAMS = False
    COMPRESS_MIN_SIZE = _env_int("COMPRESS_MIN_SIZE", 1024)
    COMPRESS_BR_LEVEL = 4
    COMPRESS_LEVEL = 6
    # Static files under their plain name (/static/css/app.css): seconds a browser may
    # keep them; fingerprinted names (/static/css/app.<hash>.css) are kept for a year.
    STATIC_PLAIN_MAX_AGE = _env_int("STATIC_PLAIN_MAX_AGE", 300)
    # <<< static

    # Password hashes (argon2id): passes over memory, memory in KiB, lanes. The defaults
    # are argon2-cffi's (RFC 9106 low-memory profile); hashes made with other settings
    # still verify, since each hash names its own parameters.
    ARGON2_TIME_COST = _env_int("ARGON2_TIME_COST", 3)
    ARGON2_MEMORY_COST = _env_int("ARGON2_MEMORY_COST", 64 * 1024)
    ARGON2_PARALLELISM = _env_int("ARGON2_PARALLELISM", 4)


class TestConfig(Config):
    """Used by the test suite: an isolated database, CSRF on, no in-process relay."""

    TESTING = True
    ENV_NAME = "test"
    DEVELOPMENT = False
    SECRET_KEY = "test-secret-key-not-for-production"
    SQLALCHEMY_DATABASE_URI = normalize_database_url(_env("TEST_DATABASE_URL", "sqlite://"))
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_SECURE = False
    PREFERRED_URL_SCHEME = "http"
    PUBLIC_HOST = "enelink.test"
    MAIL_SERVER = None
    MAIL_RELAY_IN_PROCESS = False
    DEV_MAILBOX = False
    RATELIMIT_STORAGE_URI = "memory://"
    TRUSTED_HOSTS = None
    GATEWAY_WATCH_IN_PROCESS = False
    GATEWAY_SIMULATOR_IN_PROCESS = False
    # The cheapest argon2id (still argon2id, still verified): a test signs up and in
    # often, and the default cost (~0.1 s of CPU per hash) was a large part of the suite.
    ARGON2_TIME_COST = 1
    ARGON2_MEMORY_COST = 8
    ARGON2_PARALLELISM = 1
