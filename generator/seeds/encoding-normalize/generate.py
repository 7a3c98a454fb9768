"""CSV exports in assorted encodings and line endings; their normalized forms."""
NAMES = ["José Álvarez", "Zoë Brontë", "Ana Müller", "François Lefèvre", "Søren Kierkegaard",
         "Ines Peña", "Björk Guðmundsdóttir", "Chloé Dubois", "Mario Rossi", "John Smith",
         "Renée O’Brien", "Zoltán Kovács"]
CITIES = ["Málaga", "Zürich", "København", "Québec", "Lisboa", "Köln", "Reykjavík", "Paris"]
NOTES = ["", "VIP", "pays in €", "“priority” client", "late payer", "n/a", "ok"]


def generate(rng):
    regions = rng.sample(["north", "south", "east", "west", "islands", "export"], 4)
    encodings = ["utf-8", "utf-8-sig", "utf-16", "cp1252"]
    rng.shuffle(encodings)
    out, clean_rows, seen, combined = {}, {}, set(), []
    header = "id,name,city,note"
    shared = []
    for region, enc in sorted(zip(regions, encodings)):
        rows = []
        for i in range(rng.randint(4, 9)):
            name = rng.choice(NAMES)
            rows.append(f"{rng.randint(100, 999)},{name},{rng.choice(CITIES)},{rng.choice(NOTES)}")
        if enc == "cp1252" and not any(ord(c) > 127 for r in rows for c in r):
            rows.append("998,Chloé Dubois,Köln,pays in €")
        if shared:
            rows.insert(rng.randrange(len(rows) + 1), rng.choice(shared))  # exported twice
        shared.extend(rows[:2])
        eol = "\r\n" if rng.random() < 0.6 else "\n"
        lines = [header] + rows
        raw_lines = [ln + rng.choice(["", "", " ", "\t", "  "]) for ln in lines]
        text = eol.join(raw_lines) + eol
        out[f"environment/rootfs/srv/exports/incoming/customers_{region}.csv"] = text.encode(enc)
        clean = "".join(ln + "\n" for ln in lines)
        out[f"tests/expected/customers_{region}.csv"] = clean
        for r in rows:
            if r not in seen:
                seen.add(r)
                combined.append(r)
    out["tests/expected/all_customers.csv"] = "".join(ln + "\n" for ln in [header] + combined)
    return out
