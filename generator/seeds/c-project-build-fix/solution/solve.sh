#!/bin/bash
set -euo pipefail
cd /app/ringbuf
# 1. include guard: stats.h and main.c both include ringbuf.h (struct redefinition)
python3 - <<'PY'
from pathlib import Path
h = Path("src/ringbuf.h")
text = h.read_text()
if "#ifndef RINGBUF_H" not in text:
    h.write_text("#ifndef RINGBUF_H\n#define RINGBUF_H\n" + text + "#endif\n")
s = Path("src/stats.h")
text = s.read_text()
if "#ifndef STATS_H" not in text:
    s.write_text("#ifndef STATS_H\n#define STATS_H\n" + text + "#endif\n")
# 2. a full buffer must advance its head when the oldest element is overwritten
c = Path("src/ringbuf.c")
text = c.read_text()
old = "        rb->data[rb->head] = v;\n    }"
assert old in text
c.write_text(text.replace(old, "        rb->data[rb->head] = v;\n        rb->head = (rb->head + 1) % rb->cap;\n    }"))
PY
# 3. Makefile: tabs, -lm, the test must not link main.o, phony targets
cat > Makefile <<'MK'
CC = gcc
CFLAGS = -Wall -Wextra -O2 -Isrc
LDLIBS = -lm
LIB_OBJ = build/ringbuf.o build/stats.o
OBJ = $(LIB_OBJ) build/main.o

.PHONY: all test clean

all: bin/ringstat

bin/ringstat: $(OBJ)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

build/%.o: src/%.c src/ringbuf.h src/stats.h
	@mkdir -p build
	$(CC) $(CFLAGS) -c -o $@ $<

test: bin/test_ringbuf
	./bin/test_ringbuf

bin/test_ringbuf: tests/test_ringbuf.c $(LIB_OBJ)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

clean:
	rm -rf build bin
MK
make clean && make && make test
