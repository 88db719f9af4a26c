# Sourced by benches/sit.sh and benches/compare.sh: builds, in the current directory, the
# benchmark's supply chain with the sbomit binary $SB and $N artifacts. `write-code` creates N
# small files under src/ (its products), `build` reads them all (materials) and packs them
# into app.tar (the one final product). Leaves owner/dev keys, root.layout and links/.
for k in owner dev; do "$SB" key generate --type ed25519 --out "$k" >/dev/null 2>&1; done
cat > layout.toml <<'EOF'
expires = "2099-01-01T00:00:00Z"
[keys]
dev = "dev.pub"
[[steps]]
name = "write-code"
functionaries = ["dev"]
expected_products = ["CREATE src/*", "DISALLOW *"]
[[steps]]
name = "build"
functionaries = ["dev"]
expected_command = ["tar", "cf", "app.tar", "src"]
expected_materials = ["MATCH src/* WITH PRODUCTS FROM write-code", "DISALLOW *"]
expected_products = ["CREATE app.tar", "DISALLOW *"]
EOF
"$SB" -q layout create --from layout.toml --out root.layout --signing-key owner
mkdir -p work links
# N files of a few bytes each, 1,000 per directory.
python3 - "$N" <<'EOF'
import os, sys
n = int(sys.argv[1])
for i in range(n):
    d = f"work/src/d{i // 1000:03d}"
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:06d}.c", "w") as f:
        f.write(f"int f{i}(void) {{ return {i}; }}\n")
EOF
(cd work && "$SB" -q run -n write-code --signing-key ../dev -d ../links -p src -x)
(cd work && "$SB" -q run -n build --signing-key ../dev -d ../links -m src -p app.tar -- tar cf app.tar src)
