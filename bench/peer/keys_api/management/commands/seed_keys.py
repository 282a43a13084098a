"""seed_keys --count N --out FILE [--reset]: create N API keys, write one usable key to FILE.

Every row is a real key of the package's format (8-character prefix, '.', 32-character secret,
both from Django's 62-character alphabet) hashed with the package's own default hasher
(SHA-512, which is cheap enough to hash all N). The key written to FILE is created the
documented way, APIKey.objects.create_key(); the other N-1 keys are drawn in bulk from the
OS CSPRNG (get_random_string() costs ~30 us a key, which dominates at 1,000,000) and inserted
with executemany in batches; their plaintexts are discarded.
"""
import secrets
import time
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import RANDOM_STRING_CHARS
from rest_framework_api_key.crypto import concatenate
from rest_framework_api_key.models import APIKey

_ALPHABET = RANDOM_STRING_CHARS.encode()  # a-z A-Z 0-9, as get_random_string() uses
_LIMIT = 256 - 256 % len(_ALPHABET)  # rejection sampling keeps the draw uniform
_TABLE = bytes(_ALPHABET[b % len(_ALPHABET)] for b in range(256))
_REJECT = bytes(range(_LIMIT, 256))


def _random_chars(count: int) -> str:
    out = bytearray()
    while len(out) < count:
        out += secrets.token_bytes(count - len(out) + count // 16 + 16).translate(_TABLE, _REJECT)
    return out[:count].decode()


class Command(BaseCommand):
    help = "Create N API keys in bulk and write one usable plaintext key to FILE."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--out", required=True, help="file that receives one usable key")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument("--reset", action="store_true", help="delete existing keys first")

    def handle(self, *args: object, count: int, out: str, batch_size: int, reset: bool,
               **options: object) -> None:
        if count < 1:
            raise SystemExit("--count must be at least 1")
        started = time.perf_counter()
        call_command("migrate", verbosity=0)  # so a fresh PEER_DATABASE works too
        with connection.cursor() as cursor:  # bulk-load settings for this connection only
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
        if reset:
            APIKey.objects.all().delete()

        _, key = APIKey.objects.create_key(name="bench-load")
        Path(out).write_text(key + "\n")

        generator = APIKey.objects.key_generator
        plen, slen = generator.prefix_length, generator.secret_key_length
        seen = set(APIKey.objects.values_list("prefix", flat=True).iterator(chunk_size=50_000))
        meta = APIKey._meta
        columns = ["id", "prefix", "hashed_key", "created", "name", "revoked", "expiry_date"]
        insert = "INSERT INTO {} ({}) VALUES ({})".format(
            connection.ops.quote_name(meta.db_table),
            ", ".join(connection.ops.quote_name(meta.get_field(c).column) for c in columns),
            ", ".join(["%s"] * len(columns)),
        )
        remaining = count - 1
        while remaining > 0:
            n = min(batch_size, remaining)
            chars = _random_chars(n * (plen + slen))
            created = connection.ops.adapt_datetimefield_value(timezone.now())
            rows = []
            for i in range(0, len(chars), plen + slen):
                prefix = chars[i : i + plen]
                if prefix in seen:
                    continue
                seen.add(prefix)
                hashed_key = generator.hash(concatenate(prefix, chars[i + plen : i + plen + slen]))
                rows.append(
                    (concatenate(prefix, hashed_key), prefix, hashed_key, created, "bench", False,
                     None)
                )
            # Plain executemany: bulk_create's per-field ORM work is ~80 % of the time at 1M rows.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(insert, rows)
            remaining -= len(rows)

        total = APIKey.objects.count()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"seeded {count} keys in {elapsed:.1f}s (table now {total} rows); key for load in {out}"
        )
