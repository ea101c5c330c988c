"""Aggregate a py-spy `--format raw` profile: total seconds per process, inclusive and self
time per function. `python profile_summary.py <(zcat profile.raw.gz) [N]` (10 samples a second)."""

import re, collections, sys
incl=collections.Counter(); selfc=collections.Counter(); procs=collections.Counter(); total=0
def key(f):
    m=re.match(r'(.+?) \(([^()]*?):(\d+)\)$', f)
    if not m: return f[:80]
    path=m.group(2)
    path=path.split('/src/lorarecycle/')[-1] if '/src/lorarecycle/' in path else path.split('site-packages/')[-1]
    return f'{path}:{m.group(1)}'
for line in open(sys.argv[1]):
    stack, n = line.rstrip('\n').rsplit(' ',1); n=int(n); total+=n
    frames=stack.split(';')[1:]
    proc='main'
    if frames and frames[0].startswith('process '):
        proc=frames[0].split(':')[0]; frames=frames[1:]
    procs[proc]+=n
    seen=set()
    for f in frames:
        k=key(f)
        if k not in seen: incl[k]+=n; seen.add(k)
    if frames: selfc[key(frames[-1])]+=n
print('total', total/10, 's'); print(procs)
print('--- inclusive')
for k,n in incl.most_common(int(sys.argv[2]) if len(sys.argv)>2 else 60):
    print(f'{n/10:8.1f}s {k}')
print('--- self')
for k,n in selfc.most_common(25): print(f'{n/10:8.1f}s {k}')
