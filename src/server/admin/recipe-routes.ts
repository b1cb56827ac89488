// GET /api/training/recipes: the built-in recipes (`ferry train mnist-mlp`), so a client such as the
// dashboard can start from one instead of writing a spec from nothing. A recipe is a plain
// TrainSpec: POST it, changed or not, to /api/training-jobs.
import type { FastifyInstance } from 'fastify';
import { RECIPES } from '../../training/recipes.js';
import type { TrainSpec } from '../../training/spec.js';

export interface RecipeView {
  readonly name: string;
  readonly description: string;
  readonly spec: TrainSpec;
}

export function recipeRoutes(app: FastifyInstance): void {
  app.get('/training/recipes', { config: { scope: 'read' } }, async (): Promise<{ recipes: RecipeView[] }> => ({
    recipes: Object.entries(RECIPES).map(([name, spec]) => ({ name, description: spec.description ?? '', spec })),
  }));
}
