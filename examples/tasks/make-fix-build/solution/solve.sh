#!/bin/bash
set -e
cd /app/calc
printf 'calc: main.o sum.o\n\tgcc -o calc main.o sum.o\n\nmain.o: main.c sum.h\n\tgcc -c main.c\n\nsum.o: sum.c sum.h\n\tgcc -c sum.c\n\nclean:\n\trm -f calc *.o\n' > Makefile
make
