"""Where answers come from: model backends behind one streaming protocol."""
