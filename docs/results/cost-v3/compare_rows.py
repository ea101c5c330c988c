import json,sys
def load(p):
    return {(r["model"],r["library"],r["split"]):{k:v for k,v in r.items() if k not in ("config_hash","seconds")} for r in map(json.loads, open(p))}
a,b=load(sys.argv[1]),load(sys.argv[2])
print(len(a),len(b), "same keys" if a.keys()==b.keys() else "KEYS DIFFER")
diff=[k for k in a if k in b and a[k]!=b[k]]
print("rows differing:",len(diff))
for k in diff[:10]:
    print(k, {f:(a[k].get(f),b[k].get(f)) for f in set(a[k])|set(b[k]) if a[k].get(f)!=b[k].get(f)})
