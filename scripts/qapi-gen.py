#!/usr/bin/env python3
# Placeholder, replaced by the real generator.
import argparse, os
ap = argparse.ArgumentParser()
ap.add_argument('--schema'); ap.add_argument('--output-dir')
a = ap.parse_args()
o = a.output_dir
open(os.path.join(o, 'qapi-commands.c'), 'w').write('#include "monitor/qmp.h"\nconst QmpCommand qmp_commands[] = {{NULL}};\nconst char *const qmp_event_names[] = {NULL};\n')
open(os.path.join(o, 'qapi-commands.h'), 'w').write('')
open(os.path.join(o, 'qmp-reference.md'), 'w').write('')
open(os.path.join(o, 'qapi-introspect.json'), 'w').write('[]')
