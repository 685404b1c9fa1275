export type { ColumnNode, ComparisonOp, LiteralNode, LiteralValue, Node, PredicateNode } from './ast';
export { columnsOf, forEachPredicate } from './ast';
export { RouteConditionError, RoutedDefinitionError, RouteInputError } from './errors';
export { tokenize } from './tokenize';
export { parseCondition } from './parse';
export { printCondition } from './print';
export { evaluate, lookupIn, type ValueLookup } from './evaluate';
export { canonicalText, fnv1a32, routeHash } from './hash';
export {
  checkCondition,
  compileRoutes,
  InvalidRoutesError,
  routeColumnsOf,
  type CompiledRoute,
  type CompiledRoutes,
  type Route,
  type RouteColumn,
  type RouteProblem,
} from './compile';
export { compileTargetRoutes, isRouted, singleListOf, targetListLabel, targetLists } from './lists';
export { analyzeRoutes, type RouteFinding } from './analyze';
export { describeRouteMoves, tallyRouteMoves, type RouteMove, type RouteMovesReport } from './moves';
