"""rota"""
