import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/formats/index.js';
import { estimatorChain } from '../../src/formats/pickle-globals.js';
import { classNamesTask, detectTaskFromClasses } from '../../src/formats/task.js';
import { buildSources, converterRoot } from '../convert/env.js';
import { fileDir } from '../helpers.js';

/**
 * The task of a pickled pipeline or meta-estimator is its final estimator's, read from the object's structure:
 * gradient-boosted classifiers pickle regression trees after their own class, and isotonic calibration a
 * regressor, so the last class in the stream misleads. The models are made by the real scikit-learn (and the
 * XGBoost and LightGBM wrappers) of the converter environments; the expected task is scikit-learn's is_classifier.
 */
describe('task of pickled scikit-learn pipelines and meta-estimators', () => {
  it.each(['sklearn', 'xgboost', 'lightgbm'] as const)(
    'every model built in the %s environment gets the task of its final estimator (joblib and pickle protocol 2)',
    async (family) => {
      const root = converterRoot();
      if (!root) return;
      const src = fileDir(`modelctl-pickle-task-${family}-`);
      const cases = await buildSources(root, family, src, 'tasks');
      expect(Object.keys(cases).length).toBeGreaterThanOrEqual(20);
      for (const [name, c] of Object.entries(cases)) {
        const inspected = await inspectModel(join(src, c.file));
        expect({ name, task: inspected.task }).toEqual({ name, task: c.expected[0] });
        expect(inspected.taskReason).toMatch(
          /^final estimator .* of sklearn\.(pipeline\.Pipeline|model_selection\._search\.GridSearchCV)$/,
        );
      }
      if (family !== 'sklearn') expect(Object.keys(cases).some((n) => /^(xgb|lgbm)-/.test(n))).toBe(true);
    },
    180_000,
  );

  it('the structure, not the stream order, decides; without structure the last estimator class is the guess', () => {
    const cls = (module: string, name: string, state: Array<[string, unknown]> = []) => ({
      kind: 'object' as const,
      callable: { kind: 'global' as const, module, name },
      args: { kind: 'tuple' as const, items: [] },
      state: { kind: 'dict' as const, entries: state.map(([k, v]) => [{ kind: 'str' as const, value: k }, v as never]) as never },
    });
    const gbc = cls('sklearn.ensemble._gb', 'GradientBoostingClassifier');
    const steps = { kind: 'list', items: [{ kind: 'tuple', items: [{ kind: 'str', value: 'clf' }, gbc] }] };
    const pipeline = cls('sklearn.pipeline', 'Pipeline', [['steps', steps]]);
    const chain = estimatorChain(pipeline, classNamesTask);
    expect(chain).toEqual(['sklearn.pipeline.Pipeline', 'sklearn.ensemble._gb.GradientBoostingClassifier']);
    const stream = [
      'sklearn.pipeline.Pipeline',
      'sklearn.ensemble._gb.GradientBoostingClassifier',
      'sklearn.tree._classes.DecisionTreeRegressor',
    ];
    expect(detectTaskFromClasses('sklearn.pipeline.Pipeline', stream, chain)?.task).toBe('tabular-classification');
    expect(detectTaskFromClasses('sklearn.pipeline.Pipeline', stream)?.task).toBe('tabular-regression');
    // A pipeline ending in 'passthrough' has no final estimator.
    const passthrough = cls('sklearn.pipeline', 'Pipeline', [
      [
        'steps',
        {
          kind: 'list',
          items: [
            {
              kind: 'tuple',
              items: [
                { kind: 'str', value: 'x' },
                { kind: 'str', value: 'passthrough' },
              ],
            },
          ],
        },
      ],
    ]);
    expect(estimatorChain(passthrough, classNamesTask)).toEqual(['sklearn.pipeline.Pipeline']);
    for (const [name, task] of [
      ['sklearn.semi_supervised._label_propagation.LabelSpreading', 'tabular-classification'],
      ['sklearn.multioutput.ClassifierChain', 'tabular-classification'],
      ['sklearn.multioutput.RegressorChain', 'tabular-regression'],
      ['lightgbm.sklearn.LGBMClassifier', 'tabular-classification'],
      ['xgboost.sklearn.XGBRFRegressor', 'tabular-regression'],
    ] as const)
      expect(detectTaskFromClasses(name, [])?.task).toBe(task);
  });
});
